"""Kubernetes label selectors: the one parser of their syntax, and matching against a label map.

Place in the data flow: used at both ends. The simulated API server (``sim/selectors.py``, on a
request thread) filters lists and watches with it; the backends (``backends/``, on API worker
threads) parse the REST API's ``labelSelector`` with it and translate the requirements into SQL or
a MongoDB filter, so a selector means the same thing to the mirror as to the cluster. Pure
functions and immutable values; any thread may call them.

Grammar (``k8s.io/apimachinery/pkg/labels``): comma-separated requirements, all of which must
hold: ``k=v``, ``k==v``, ``k!=v`` (also true when ``k`` is absent), ``k in (a,b)``, ``k notin
(a,b)`` (also true when absent), ``k`` (exists), ``!k`` (does not exist), ``k>5``, ``k<5``
(integer comparison). Keys must be qualified names (an optional DNS-subdomain prefix and ``/``),
values valid label values; anything else raises :class:`SelectorError` with the apiserver's
wording.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from informer_mirror.errors import SelectorError

__all__ = ["LabelRequirement", "SelectorError", "parse_label_selector"]

_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN_RE = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_INT_RE = re.compile(r"^-?[0-9]+$")


@dataclass(frozen=True, slots=True)
class LabelRequirement:
    """One requirement of a label selector, e.g. ``tier in (web,api)``."""

    key: str
    op: str
    """``=``, ``!=``, ``in``, ``notin``, ``exists``, ``!``, ``>`` or ``<`` (``==`` is ``=``)."""
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` satisfy this requirement."""
        value = labels.get(self.key)
        op = self.op
        if op in ("=", "in"):
            return value is not None and value in self.values
        if op in ("!=", "notin"):
            return value is None or value not in self.values
        if op == "exists":
            return value is not None
        if op == "!":
            return value is None
        if value is None or not _INT_RE.match(value):
            return False
        if op == ">":
            return int(value) > int(self.values[0])
        return int(value) < int(self.values[0])


def _validate_key(key: str) -> None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN_RE.match(prefix)):
        raise SelectorError(
            f'unable to parse requirement: invalid label key "{key}": prefix part must be a '
            "DNS-1123 subdomain"
        )
    if not name or len(name) > 63 or not _NAME_RE.match(name):
        raise SelectorError(
            f'unable to parse requirement: invalid label key "{key}": name part must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character"
        )


def _validate_value(value: str) -> None:
    if value and (len(value) > 63 or not _NAME_RE.match(value)):
        raise SelectorError(
            f'unable to parse requirement: invalid label value: "{value}": a valid label must be '
            "an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character"
        )


def _lex(text: str) -> list[str]:
    """Split a label selector into tokens: operators, parentheses, commas and identifiers."""
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "(),":
            tokens.append(c)
            i += 1
        elif c in "!=":
            if i + 1 < n and text[i + 1] == "=":
                tokens.append(c + "=")
                i += 2
            else:
                tokens.append(c)
                i += 1
        elif c in "<>":
            tokens.append(c)
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "(),!=<>":
                j += 1
            tokens.append(text[i:j])
            i = j
    return tokens


def _is_ident(token: str | None) -> bool:
    return token is not None and token not in ("(", ")", ",", "!", "=", "==", "!=", "<", ">")


def parse_label_selector(text: str) -> tuple[LabelRequirement, ...]:
    """Parse a ``labelSelector`` value; ``""`` selects everything. Raises :class:`SelectorError`."""
    tokens = _lex(text)
    pos = 0
    reqs: list[LabelRequirement] = []

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str | None:
        nonlocal pos
        tok = peek()
        pos += 1
        return tok

    def fail(found: str | None, expected: str) -> SelectorError:
        shown = "end of string" if found is None else f"'{found}'"
        return SelectorError(f"unable to parse requirement: found {shown}, expected: {expected}")

    while peek() is not None:
        tok = take()
        if tok == "!":
            key = take()
            if not _is_ident(key):
                raise fail(key, "identifier")
            assert key is not None
            _validate_key(key)
            reqs.append(LabelRequirement(key, "!"))
        elif _is_ident(tok):
            assert tok is not None
            key = tok
            _validate_key(key)
            op = peek()
            if op is None or op == ",":
                reqs.append(LabelRequirement(key, "exists"))
            elif op in ("=", "==", "!="):
                take()
                value = ""
                if _is_ident(peek()):
                    value = take() or ""
                _validate_value(value)
                reqs.append(LabelRequirement(key, "!=" if op == "!=" else "=", (value,)))
            elif op in ("in", "notin"):
                take()
                if take() != "(":
                    raise fail(tokens[pos - 1] if pos - 1 < len(tokens) else None, "'('")
                values: list[str] = []
                while True:
                    nxt = peek()
                    if _is_ident(nxt):
                        values.append(take() or "")
                        nxt = peek()
                    elif nxt in (",", ")"):
                        values.append("")  # an empty value between separators is allowed
                    if nxt == ",":
                        take()
                        continue
                    if nxt == ")":
                        take()
                        break
                    raise fail(nxt, "',' or ')'")
                for v in values:
                    _validate_value(v)
                reqs.append(LabelRequirement(key, op, tuple(values)))
            elif op in (">", "<"):
                take()
                bound = take()
                if bound is None or not _INT_RE.match(bound):
                    raise SelectorError(
                        "unable to parse requirement: for 'Gt', 'Lt' operators, the value must "
                        f"be an integer (got {bound!r})"
                    )
                reqs.append(LabelRequirement(key, op, (bound,)))
            else:
                raise fail(op, "'=', '!=', '==', 'in', notin'")
        else:
            raise fail(tok, "'!' or identifier")
        nxt = take()
        if nxt is None:
            break
        if nxt != ",":
            raise fail(nxt, "',' or 'end of string'")
        if peek() is None:
            raise fail(None, "identifier after ','")
    return tuple(reqs)
