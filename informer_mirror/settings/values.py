"""Reading typed values out of parsed YAML, with errors that name the field path.

Place in the data flow: used by the section parsers while the settings are loaded (main thread, at
start-up). Owns the wording of every configuration error, ``<field.path>: <problem> (got <value>)``,
and the one rule for defaults: an absent or null key takes the dataclass field's default, so the
defaults are written once, in the model.

A checker is a function ``(value, field_path) -> typed value`` that raises ConfigError; the
factories below (``integer``, ``seconds``, ``string``, ...) build them, and :class:`Section` applies
them to one mapping of the file. Values are never coerced across types: YAML ``yes``/``true`` are
booleans, the quoted string ``"true"`` is not; a boolean is not an integer; ``"30"`` is not a
number of seconds.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import math
import os
import pwd
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

from informer_mirror.errors import ConfigError

T = TypeVar("T")
Check = Callable[[object, str], T]
"""Validates one raw YAML value found at a field path and returns it typed."""

_NOTHING: Any = object()
_SHOWN_CHARS = 60


def describe(value: object) -> str:
    """A short, YAML-flavoured rendering of a value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "...")
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else "a very large integer"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple | set):
        return "a list"
    if isinstance(value, bytes | bytearray):
        return "binary data"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()}"
    return f"a {type(value).__name__}"


def join(path: str, key: str) -> str:
    """``api`` + ``port`` -> ``api.port``; the top level has the empty path."""
    shown = key if len(key) <= _SHOWN_CHARS else key[:_SHOWN_CHARS] + "..."
    return f"{path}.{shown}" if path else shown


def fail(path: str, problem: str, *, got: object = _NOTHING) -> NoReturn:
    """Raise the ConfigError for ``path``; ``got`` (when given) is shown with :func:`describe`."""
    where = path or "top level"
    suffix = "" if got is _NOTHING else f" (got {describe(got)})"
    raise ConfigError(f"{where}: {problem}{suffix}")


def mapping(value: object, path: str) -> dict[str, object]:
    """A YAML mapping with string keys; null (an empty section) is the empty mapping."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail(path, "must be a mapping", got=value)
    for key in value:
        if not isinstance(key, str):
            fail(path, "keys must be strings", got=key)
    return cast(dict[str, object], value)


def check_keys(data: Mapping[str, object], path: str, known: Sequence[str]) -> None:
    """Reject a key that is not in ``known``, suggesting the closest known key."""
    for key in data:
        if key not in known:
            problem = f"unknown key (known: {', '.join(known)})"
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
            if close:
                problem += f"; did you mean {close[0]!r}?"
            fail(join(path, key), problem)


def boolean(value: object, path: str) -> bool:
    """YAML true/false (and YAML 1.1's yes/no/on/off); never a string or a number."""
    if not isinstance(value, bool):
        fail(path, "must be true or false", got=value)
    return value


def integer(*, minimum: int, maximum: int | None = None) -> Check[int]:
    """An integer (not a boolean, not a float) in ``[minimum, maximum]``."""

    def check(value: object, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail(path, "must be an integer", got=value)
        if maximum is not None and not minimum <= value <= maximum:
            fail(path, f"must be between {minimum} and {maximum}", got=value)
        if value < minimum:
            fail(path, "must be > 0" if minimum == 1 else f"must be >= {minimum}", got=value)
        return value

    return check


def seconds(*, zero: bool = False) -> Check[float]:
    """A finite, non-negative number of seconds; 0 only when ``zero`` (it then means "off")."""

    def check(value: object, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(path, "must be a number of seconds", got=value)
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            fail(path, "must be a finite number of seconds", got=value)
        if number < 0 or (number == 0 and not zero):
            fail(path, "must be >= 0 seconds" if zero else "must be > 0 seconds", got=value)
        return number

    return check


def resync_seconds(value: object, path: str) -> float:
    """A resync period: 0 turns resync off, otherwise client-go's minimum of 1 second applies."""
    number = seconds(zero=True)(value, path)
    if 0 < number < 1:
        fail(path, "must be 0 (off) or >= 1 second", got=value)
    return number


def string(valid: Callable[[str], bool] | None = None, rule: str = "") -> Check[str]:
    """A non-empty string without NUL characters, optionally matching ``valid`` (``rule`` says
    what it must be, for the message)."""

    def check(value: object, path: str) -> str:
        if not isinstance(value, str):
            fail(path, "must be a string", got=value)
        if not value:
            fail(path, "must not be empty")
        if "\x00" in value:
            fail(path, "must not contain a NUL character")
        if valid is not None and not valid(value):
            fail(path, f"must be {rule}", got=value)
        return value

    return check


def choice(options: Sequence[str], *, fold_case: bool = False) -> Check[str]:
    """One of ``options`` (compared case-insensitively and returned normalised if ``fold_case``)."""

    def check(value: object, path: str) -> str:
        if isinstance(value, str):
            for option in options:
                if value == option or (fold_case and value.lower() == option.lower()):
                    return option
        fail(path, f"must be one of {', '.join(options)}", got=value)

    return check


def items(value: object, path: str) -> list[object]:
    """A YAML sequence."""
    if not isinstance(value, list):
        fail(path, "must be a list", got=value)
    return cast(list[object], value)


def names(valid: Callable[[str], bool], rule: str) -> Check[tuple[str, ...]]:
    """A list of distinct strings, each ``valid``."""
    each = string(valid, rule)

    def check(value: object, path: str) -> tuple[str, ...]:
        result: list[str] = []
        for index, item in enumerate(items(value, path)):
            name = each(item, f"{path}[{index}]")
            if name in result:
                fail(f"{path}[{index}]", "is listed twice", got=name)
            result.append(name)
        return tuple(result)

    return check


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What resolving a value needs beyond the value: the environment and the file's directory."""

    env: Mapping[str, str]
    """The process environment (or a test's stand-in for it)."""
    base_dir: Path
    """Absolute directory that relative paths in the file are relative to."""

    def home(self) -> Path:
        """``$HOME``, else the password database's entry for this user, else ``/``."""
        home = self.env.get("HOME")
        if home:
            return Path(home)
        try:
            return Path(pwd.getpwuid(os.getuid()).pw_dir)
        except KeyError:  # a container user with no passwd entry
            return Path("/")

    def path(self, value: object, field_path: str) -> Path:
        """A file path: ``~`` expanded, relative paths resolved against :attr:`base_dir`."""
        text = string()(value, field_path)
        if text == "~" or text.startswith("~/"):
            candidate = self.home() / text[2:]
        elif text.startswith("~"):
            candidate = Path(os.path.expanduser(text))
            if str(candidate).startswith("~"):
                fail(field_path, "names the home directory of an unknown user", got=value)
        else:
            candidate = Path(text)
        return Path(os.path.normpath(self.base_dir / candidate))


class Section:
    """One mapping of the file being read, with typed getters that fall back to the defaults of
    the dataclass ``cls`` for absent or null keys. Unknown keys are rejected on construction, so
    a typo is reported before any error it may cause downstream."""

    __slots__ = ("_cls", "_data", "path")

    def __init__(self, value: object, path: str, cls: type[Any], keys: Sequence[str]) -> None:
        self.path = path
        self._cls = cls
        self._data = mapping(value, path)
        check_keys(self._data, path, keys)

    def at(self, key: str) -> str:
        """The field path of ``key`` in this section."""
        return join(self.path, key)

    def raw(self, key: str) -> object:
        """The value as parsed from YAML; None when absent or null."""
        return self._data.get(key)

    def default(self, key: str) -> Any:
        """The dataclass default of field ``key``."""
        field = {f.name: f for f in dataclasses.fields(self._cls)}[key]
        if field.default_factory is not dataclasses.MISSING:
            return field.default_factory()
        assert field.default is not dataclasses.MISSING, (
            f"{self._cls.__name__}.{key} has no default"
        )
        return field.default

    def get(self, key: str, check: Check[T]) -> T:
        """The checked value of ``key``; the default when the key is absent or null (so a key
        left empty in the file, ``exclude:``, means the default, as an empty section does)."""
        value = self._data.get(key)
        if value is None:
            return cast(T, self.default(key))
        return check(value, self.at(key))

    def optional(self, key: str, check: Check[T]) -> T | None:
        """Like :meth:`get`, for a field whose default is None."""
        value = self._data.get(key)
        if value is None:
            return cast("T | None", self.default(key))
        return check(value, self.at(key))

    def required(self, key: str, check: Check[T]) -> T:
        """The checked value of a key that has no default."""
        value = self._data.get(key)
        if value is None:
            fail(self.at(key), "is required")
        return check(value, self.at(key))
