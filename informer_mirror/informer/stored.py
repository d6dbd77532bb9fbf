"""What the Store keeps and reports: records, keys, read-only views, the default transform, changes.

Place in the data flow: ``store.Store`` builds a :class:`StoredObject` for every object it ingests
(on the Reflector's thread) and hands records to any thread that reads it: BatchWriter threads
take ``document`` (the JSON bytes) straight into the backend, event handlers read ``object``.
Each write is reported as a :class:`StoreChange` (a relist as a :class:`ReplaceResult`), which
the Informer turns into queue adds and handler calls. Pure values and functions: nothing here
locks or owns a thread.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import orjson

from informer_mirror.informer.codec import DocumentCodec

TransformFunc = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns a raw API object into the form the mirror keeps; runs once, at ingest."""

# Copied into the stand-in document of an object whose transform failed. Annotations are left
# out on purpose: ``last-applied-configuration`` can hold a Secret's payload (pitfall 12).
_KEPT_METADATA = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
)


def _read_only(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError("objects handed out by the Store are read-only")


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses every mutation; compares, encodes and copies like a plain dict."""

    __slots__ = ()

    def __setitem__(self, key: str, value: Any) -> NoReturn:
        _read_only(self)

    def __delitem__(self, key: str) -> NoReturn:
        _read_only(self)

    def __ior__(self, other: object) -> NoReturn:  # type: ignore[misc]
        _read_only(self)

    clear = _read_only
    pop = _read_only
    popitem = _read_only
    setdefault = _read_only
    update = _read_only

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, Any]]]:
        # copy/deepcopy/pickle rebuild through the constructor instead of __setitem__.
        return (FrozenDict, (dict(self),))


class FrozenList(list[Any]):
    """A ``list`` that refuses every mutation; equal to the plain list with the same items."""

    __slots__ = ()

    def __setitem__(self, index: object, value: object) -> NoReturn:
        _read_only(self)

    def __delitem__(self, index: object) -> NoReturn:
        _read_only(self)

    def __iadd__(self, other: object) -> NoReturn:  # type: ignore[misc]
        _read_only(self)

    def __imul__(self, other: object) -> NoReturn:
        _read_only(self)

    append = _read_only
    clear = _read_only
    extend = _read_only
    insert = _read_only
    pop = _read_only
    remove = _read_only
    reverse = _read_only
    sort = _read_only

    def __reduce__(self) -> tuple[type[FrozenList], tuple[list[Any]]]:
        return (FrozenList, (list(self),))


def freeze(value: Any) -> Any:
    """Deep read-only copy of freshly decoded JSON (FrozenDict / FrozenList); mutates its input."""
    kind = type(value)
    if kind is dict:
        for k, v in value.items():
            if type(v) is dict or type(v) is list:
                value[k] = freeze(v)  # value is our private fresh decode
        return FrozenDict(value)
    if kind is list:
        return FrozenList([freeze(v) if type(v) is dict or type(v) is list else v for v in value])
    return value


def encode(doc: Mapping[str, Any]) -> bytes:
    """The compact JSON the Store keeps: orjson's encoding, copied into an exact-size ``bytes``.

    orjson hands back its output buffer with spare capacity: measured, a 3.6 KB Pod document kept
    an 8.3 KiB allocation (RSS per Pod 8.3 KiB, 4.0 KiB after the 0.3 us copy).
    """
    return bytes(memoryview(orjson.dumps(doc)))


def object_key(obj: Mapping[str, Any]) -> str:
    """client-go's ``MetaNamespaceKeyFunc``: ``namespace/name``, or ``name`` if cluster-scoped."""
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ValueError("object has no metadata.name")
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    return f"{namespace}/{name}" if isinstance(namespace, str) and namespace else name


def split_key(key: str) -> tuple[str, str]:
    """``(namespace, name)`` of a key; the namespace is ``""`` for cluster-scoped objects."""
    namespace, _, name = key.rpartition("/")
    return namespace, name


def strip_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """The default transform: drop ``metadata.managedFields`` (None or absent is fine).

    Returns a shallow copy when it removes something; the caller's dict is never modified.
    """
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    stripped = {k: v for k, v in metadata.items() if k != "managedFields"}
    return {**obj, "metadata": stripped}


class StoredObject:
    """One cached object: identity fields plus its JSON document bytes. Immutable.

    ``document`` is what a writer stores as-is (kept packed when a ``codec`` is given);
    :attr:`object` decodes it into a read-only mapping. ``transform_error`` is True when the
    document is the minimal stand-in kept because the transform failed (the document then
    carries a ``transformError`` message).
    """

    __slots__ = (
        "_codec",
        "_data",
        "_decoded",
        "key",
        "namespace",
        "resource_version",
        "transform_error",
        "uid",
    )

    key: str
    namespace: str
    uid: str
    resource_version: str
    transform_error: bool
    _data: bytes
    _codec: DocumentCodec | None
    """The codec that packed ``_data``; None when ``_data`` is the document as it is."""
    _decoded: dict[str, Any] | None

    def __init__(
        self,
        *,
        key: str,
        namespace: str,
        uid: str,
        resource_version: str,
        document: bytes,
        transform_error: bool = False,
        codec: DocumentCodec | None = None,
        packed: bool | None = None,
    ) -> None:
        """``document`` is packed with ``codec`` (when given) here, unless ``packed`` says it
        was already: True when ``document`` is ``codec``'s packed data, False when ``codec``
        left it as it is (``DocumentCodec.pack_many``)."""
        if packed is None:
            data, packed = codec.pack(document) if codec is not None else (document, False)
        else:
            data = document
        setter = object.__setattr__
        setter(self, "key", key)
        setter(self, "namespace", namespace)
        setter(self, "uid", uid)
        setter(self, "resource_version", resource_version)
        setter(self, "_data", data)
        setter(self, "_codec", codec if packed else None)
        setter(self, "transform_error", transform_error)
        setter(self, "_decoded", None)

    def repacked(self, data: bytes, codec: DocumentCodec) -> StoredObject:
        """This record with its document as ``codec`` packed it into ``data``."""
        return StoredObject(
            key=self.key,
            namespace=self.namespace,
            uid=self.uid,
            resource_version=self.resource_version,
            document=data,
            transform_error=self.transform_error,
            codec=codec,
            packed=True,
        )

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"StoredObject is immutable (tried to set {name})")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"StoredObject is immutable (tried to delete {name})")

    @property
    def name(self) -> str:
        """``metadata.name``."""
        return split_key(self.key)[1]

    @property
    def document(self) -> bytes:
        """The document's JSON bytes (unpacked if the Store's codec packed them: ~0.7 us)."""
        codec = self._codec
        return self._data if codec is None else codec.unpack(self._data)

    @property
    def stored_size(self) -> int:
        """Bytes the document takes in memory (packed or not)."""
        return len(self._data)

    @property
    def object(self) -> Mapping[str, Any]:
        """The transformed object, decoded into a deep read-only mapping."""
        decoded = self._decoded  # set only while index functions run at ingest
        if decoded is not None:
            return decoded
        frozen: Mapping[str, Any] = freeze(orjson.loads(self.document))
        return frozen

    def to_dict(self) -> dict[str, Any]:
        """A fresh, mutable, private decode of the document (cheaper than :attr:`object`)."""
        result: dict[str, Any] = orjson.loads(self.document)
        return result

    def __repr__(self) -> str:
        return f"StoredObject(key={self.key!r}, uid={self.uid!r}, rv={self.resource_version!r})"


def documents(records: Sequence[StoredObject]) -> list[bytes]:
    """The ``document`` of each of ``records``, in order; those one codec packed are unpacked
    in one call (``DocumentCodec.unpack_many``), as a writer reads a batch."""
    codec = next((r._codec for r in records if r._codec is not None), None)
    if codec is None:
        return [r._data for r in records]
    datas = [r._data for r in records if r._codec is codec]
    if len(datas) == len(records):  # the usual case: every one packed, by the Store's codec
        return codec.unpack_many(datas)
    unpacked = iter(codec.unpack_many(datas))
    return [next(unpacked) if r._codec is codec else r.document for r in records]


def transform_error_stand_in(raw: Mapping[str, Any], error: BaseException) -> dict[str, Any]:
    """The minimal document kept for an object whose transform failed (always JSON-encodable).

    Identity metadata and labels survive; annotations and the body do not, since the failed
    transform may have been the one meant to redact them. ``transformError`` says what went wrong.
    """
    metadata = raw.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    kept: dict[str, Any] = {
        k: metadata[k] for k in _KEPT_METADATA if isinstance(metadata.get(k), str | int)
    }
    labels = metadata.get("labels")
    if isinstance(labels, Mapping):
        kept["labels"] = {
            k: v for k, v in labels.items() if isinstance(k, str) and isinstance(v, str)
        }
    stand_in: dict[str, Any] = {
        k: raw[k] for k in ("apiVersion", "kind") if isinstance(raw.get(k), str)
    }
    stand_in["metadata"] = kept
    stand_in["transformError"] = f"{type(error).__name__}: {error}"[:500]
    return stand_in


class ChangeKind(enum.Enum):
    """What a write did to the key it touched."""

    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    """Same UID and resourceVersion (a sync), or a delete of an unknown key."""
    REPLACED_UID = "replaced_uid"
    """Another object (new UID) under the same key: a delete plus a create."""
    DELETED = "deleted"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreChange:
    """The outcome of one ``add``/``update``/``delete``."""

    kind: ChangeKind
    key: str
    old: StoredObject | None
    """What the key held before, if anything (for REPLACED_UID: the deleted object)."""
    new: StoredObject | None
    """What the key holds now, if anything."""

    @property
    def changed(self) -> bool:
        """True unless nothing changed (the Informer enqueues the key only then)."""
        return self.kind is not ChangeKind.UNCHANGED


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceResult:
    """How a full ``replace`` differed from what the store held."""

    added: frozenset[str]
    changed: frozenset[str]
    """Keys whose resourceVersion or UID changed; unchanged-RV keys are not here."""
    removed: frozenset[str]
    """Keys not in the new list: deleted while the informer was not watching."""
    uid_replaced: frozenset[str] = frozenset()
    """The subset of ``changed`` whose UID changed (deleted and recreated)."""
    tombstones: Mapping[str, StoredObject] = field(default_factory=dict)
    """The last known state of every removed key."""


def classify(old: StoredObject | None, new: StoredObject) -> ChangeKind:
    """What writing ``new`` over ``old`` means (an equal resourceVersion is a sync)."""
    if old is None:
        return ChangeKind.ADDED
    if old.uid and new.uid and old.uid != new.uid:
        return ChangeKind.REPLACED_UID
    if new.resource_version:
        same = old.resource_version == new.resource_version
    else:  # no resourceVersion to compare (hand-made objects): compare content
        same = not old.resource_version and old.document == new.document
    return ChangeKind.UNCHANGED if same else ChangeKind.UPDATED
