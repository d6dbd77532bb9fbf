"""The field path syntax of custom resources: compile once at start-up, extract without raising.

Place in the data flow: ``custom.py`` compiles each ``resources.custom[N].fields`` entry while the
registry is built (main thread; a syntax error is a ConfigError naming the field); the compiled
:class:`FieldPath` then runs inside the custom resource's transformer on the reflector thread.
Compiled paths are immutable and shared freely.

Syntax (a small subset of JSONPath, written without the leading ``$.``)::

    spec.secretName                          dotted keys
    spec.containers[0].image                 list index (negative counts from the end: [-1])
    metadata.labels['app.kubernetes.io/name']  quoted key, for keys with dots or slashes
    status.conditions[?type=='Ready'].status the first list element whose field equals a literal
    spec.containers[*].image                 every element: the result is a list

A key is letters, digits, ``_``, ``-`` and ``$`` (not starting with a digit or ``-``). A filter
compares a (dotted) field with a literal: a quoted string, an integer, ``true``, ``false`` or
``null``. Extraction is total: a missing key, an index out of range, no matching element or a value
of the wrong type gives ``None`` (with ``[*]``, such elements are left out of the list).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from informer_mirror.errors import ConfigError

_KEY_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")
_INT_RE = re.compile(r"-?[0-9]{1,18}")
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}


@dataclass(frozen=True, slots=True)
class _Key:
    key: str


@dataclass(frozen=True, slots=True)
class _Index:
    index: int


@dataclass(frozen=True, slots=True)
class _Every:
    pass


@dataclass(frozen=True, slots=True)
class _Filter:
    field: tuple[str, ...]
    value: Any


_Step = _Key | _Index | _Every | _Filter


def _lookup(value: Any, field: tuple[str, ...]) -> Any:
    for key in field:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python; a filter on `true` must not match the number 1, nor `1` match `true`
    return type(a) is type(b) and a == b


def _apply(step: _Step, value: Any) -> list[Any]:
    """Values reached from ``value`` by ``step`` (empty when it does not apply)."""
    if isinstance(step, _Key):
        if isinstance(value, Mapping) and step.key in value:
            return [value[step.key]]
        return []
    if not isinstance(value, list):
        return []
    if isinstance(step, _Index):
        return [value[step.index]] if -len(value) <= step.index < len(value) else []
    if isinstance(step, _Every):
        return list(value)
    for item in value:
        if _same(_lookup(item, step.field), step.value):
            return [item]
    return []


@dataclass(frozen=True, slots=True)
class FieldPath:
    """A compiled path; :meth:`extract` never raises."""

    text: str
    """The path as written in the configuration."""
    steps: tuple[_Step, ...]
    many: bool
    """True when the path contains ``[*]``: the result is then always a list."""

    def extract(self, obj: Any) -> Any:
        """The value at this path in ``obj``; ``None`` (or ``[]`` with ``[*]``) when absent.

        Values are returned as they are in ``obj``, not copied.
        """
        current = [obj]
        for step in self.steps:
            current = [reached for value in current for reached in _apply(step, value)]
            if not current:
                break
        if self.many:
            return [v for v in current if v is not None]
        return current[0] if current else None


class _Parser:
    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where
        self.pos = 0

    def fail(self, problem: str) -> ConfigError:
        return ConfigError(
            f"{self.where}: {problem} at position {self.pos + 1} of path {self.text!r}"
        )

    def peek(self, literal: str) -> bool:
        return self.text.startswith(literal, self.pos)

    def expect(self, literal: str) -> None:
        if not self.peek(literal):
            raise self.fail(f"expected {literal!r}")
        self.pos += len(literal)

    def match(self, pattern: re.Pattern[str], what: str) -> str:
        found = pattern.match(self.text, self.pos)
        if found is None:
            raise self.fail(f"expected {what}")
        self.pos = found.end()
        return found.group()

    def quoted(self) -> str:
        quote = self.text[self.pos]
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            raise self.fail("unterminated quoted string")
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return value

    def literal(self) -> Any:
        if self.peek("'") or self.peek('"'):
            return self.quoted()
        for word, value in _LITERALS.items():
            if self.peek(word):
                self.pos += len(word)
                return value
        return int(self.match(_INT_RE, "a quoted string, an integer, true, false or null"))

    def bracket(self) -> _Step:
        self.expect("[")
        step: _Step
        if self.peek("*"):
            self.pos += 1
            step = _Every()
        elif self.peek("?"):
            self.pos += 1
            field = [self.match(_KEY_RE, "a field name after '?'")]
            while self.peek("."):
                self.pos += 1
                field.append(self.match(_KEY_RE, "a field name after '.'"))
            self.expect("==")
            step = _Filter(tuple(field), self.literal())
        elif self.peek("'") or self.peek('"'):
            step = _Key(self.quoted())
        else:
            step = _Index(
                int(self.match(_INT_RE, "an index, '*', '?field==value' or a quoted key"))
            )
        self.expect("]")
        return step

    def parse(self) -> FieldPath:
        if not self.text:
            raise self.fail("empty path")
        steps: list[_Step] = [_Key(self.match(_KEY_RE, "a key"))]
        while self.pos < len(self.text):
            if self.peek("."):
                self.pos += 1
                steps.append(_Key(self.match(_KEY_RE, "a key after '.'")))
            elif self.peek("["):
                steps.append(self.bracket())
            else:
                raise self.fail("expected '.' or '['")
        return FieldPath(self.text, tuple(steps), any(isinstance(s, _Every) for s in steps))


def compile_path(text: str, *, where: str) -> FieldPath:
    """Compile ``text``; on a syntax error raise ConfigError starting with ``where`` (the config
    field path, e.g. ``resources.custom[0].fields.ready``)."""
    return _Parser(text, where).parse()
