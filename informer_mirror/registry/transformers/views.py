"""Typed views of what a transformer reads: msgspec Structs, decoded strictly, built leniently.

Place in the data flow: a resource whose objects are numerous (Pods) declares the parts its
transformer reads as Structs of plain ``str``/``int``/``bool`` fields (``pods.PodSpecView``).
``kube/decode.py`` decodes list pages and watch events straight into them: msgspec checks every
type while it parses, in C, so the transformer reads attributes without a single ``isinstance``
(a Pod's transform: 12 -> 3 us). Objects that reach the transformer as dicts (a page off the
schema, ``keep_raw``, hand-made objects) go through :func:`view`, which gives the same view:
by ``msgspec.convert`` when the dict fits, else field by field, where a value of the wrong type
counts as absent (``None``), a list keeps only its elements of the right type, and a mapping
its string entries: the rule of ``common``'s total accessors, so one transform serves both.

A field that must tell "present but not an object" from "absent" (a container state's
``running``) is typed ``Detail | UnsetType | None``: absent is ``UNSET``, anything else
present is a view or ``None``.

Pure functions over immutable types; the per-class field tables are built once and cached
(``functools.cache``: thread-safe, and building one twice in a race is harmless).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi

from informer_mirror.registry.redaction import MAPPINGS

V = TypeVar("V", bound=msgspec.Struct)

_Coerce = Callable[[Any], Any]
_Fields = tuple[tuple[str, str, _Coerce], ...]
"""Per field: the key read from a mapping, the Struct field's name, the lenient coercion."""


def view(cls: type[V], value: Any) -> V:
    """``value`` as a ``cls`` view: itself if it is one, an empty view if it is not a mapping,
    else converted (strictly when it fits, leniently when it does not). Never raises for any
    ``value``; a view class with a field type the lenient rules do not know raises TypeError
    (a bug in its declaration, found by the first object viewed)."""
    if type(value) is cls:
        return value
    if not isinstance(value, MAPPINGS):
        return cls()
    if type(value) is dict:
        try:
            return msgspec.convert(value, cls)
        except msgspec.ValidationError:
            pass
    return _lenient(cls, value)


def _lenient(cls: type[V], value: Mapping[str, Any]) -> V:
    fields = _fields(cls)
    return cls(**{name: coerce(value[key]) for key, name, coerce in fields if key in value})


@functools.cache
def _fields(cls: type) -> _Fields:
    info = mi.type_info(cls)
    if not isinstance(info, mi.StructType):
        raise TypeError(f"{cls.__name__} is not a msgspec Struct")
    for f in info.fields:
        if f.required:
            raise TypeError(f"{cls.__name__}.{f.name}: a view's fields need defaults")
    return tuple((f.encode_name, f.name, _coercion(f.type, cls, f.name)) for f in info.fields)


def _coercion(t: mi.Type, owner: type, name: str) -> _Coerce:
    """How a value becomes the field type ``t`` leniently (wrong type: ``None``)."""
    if isinstance(t, mi.UnionType):  # X [| UnsetType] | None: a wrong type becomes the None
        options = [x for x in t.types if not isinstance(x, mi.NoneType)]
        if len(options) == 1 and len(options) < len(t.types):
            return _coercion(options[0], owner, name)
    elif isinstance(t, mi.StrType):
        return _of_type(str)
    elif isinstance(t, mi.BoolType):
        return _of_type(bool)
    elif isinstance(t, mi.IntType):
        return lambda v: v if isinstance(v, int) and not isinstance(v, bool) else None
    elif isinstance(t, mi.StructType):
        cls = t.cls
        return lambda v: _lenient(cls, v) if isinstance(v, MAPPINGS) else None
    elif isinstance(t, mi.ListType):
        item = t.item_type
        if isinstance(item, mi.StructType):
            item_cls = item.cls
            return lambda v: (
                [_lenient(item_cls, x) for x in v if isinstance(x, MAPPINGS)]
                if isinstance(v, list)
                else None
            )
        if isinstance(item, mi.StrType):
            return lambda v: [x for x in v if isinstance(x, str)] if isinstance(v, list) else None
    elif (
        isinstance(t, mi.DictType)
        and isinstance(t.key_type, mi.StrType)
        and isinstance(t.value_type, mi.StrType)
    ):
        return lambda v: (
            {k: x for k, x in v.items() if isinstance(k, str) and isinstance(x, str)}
            if isinstance(v, MAPPINGS)
            else None
        )
    raise TypeError(
        f"{owner.__name__}.{name}: a view field is str, int, bool, a view, a list of views or "
        "of str, or dict[str, str], each optional (| None)"
    )


def _of_type(kind: type) -> _Coerce:
    return lambda v: v if isinstance(v, kind) else None
