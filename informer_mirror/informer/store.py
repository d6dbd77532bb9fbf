"""The Store: the informer's thread-safe, indexed, in-memory cache of transformed objects.

Place in the data flow: a resource's Reflector thread writes it through the Informer (``add``,
``update``, ``delete`` per watch event, ``replace`` per full list, ``bookmark`` per BOOKMARK); the
Informer enqueues the keys it reports as changed, and BatchWriter threads read each key's current
state (``get_stored``: key, uid, resourceVersion and the JSON document bytes, with no decoding) to
mirror it. Any thread may read.

Semantics follow client-go's ``thread_safe_store.go`` / ``index.go`` (informer-semantics.md 2.5):
keys are ``namespace/name`` (``name`` for cluster-scoped objects), the ``namespace`` index is built
in and more indexes plug in, index sets that become empty are deleted (no leak, kubernetes#84959),
``replace`` swaps the whole content atomically (the first list into an empty store is published
as it arrives, in chunks), and the store tracks the resourceVersion of the last
applied change or bookmark. Unlike client-go: writes report *what* changed (:class:`ChangeKind`; an
equal resourceVersion is a sync, not a change; a new UID under the same key is a delete + create),
index functions and the transform are *total* (an exception is logged and counted, never raised),
and handed-out objects are deep read-only copies, so no caller can corrupt the cache.

Representation, chosen by measurement (``python -m bench.store_memory``; results in
``bench/results/store_memory.json``): 100k Pods from the simulated cluster, 6.4 KB of JSON each,
3.6 KB once ``managedFields`` is stripped; Python 3.11, 2 cores. Ingest includes ``orjson.loads``.

======================  =======  =======  =========  ======  =======  ======
100k Pods               RSS/Pod  GC objs  full GC    ingest  get()    doc
======================  =======  =======  =========  ======  =======  ======
parsed dicts            18.6 KiB 36       2.06 s     165 us  0.8 us*  25 us
orjson.dumps as is      8.3 KiB  1        0.09 s     40 us   39 us    1.2 us
exact-size bytes        4.0 KiB  1        0.12 s     33 us   40 us    1.0 us
zlib(1) bytes           1.9 KiB  1        0.09 s     78 us   51 us    13 us
this Store              3.9 KiB  1        0.07 s     36 us   37 us    1.7 us
======================  =======  =======  =========  ======  =======  ======

(GC objs: objects the collector tracks per Pod; doc: the JSON bytes a writer needs; * the dict
baseline hands out its shared mutable dict, the hazard client-go documents.) So each object is
kept as JSON bytes plus key, namespace (interned), uid and resourceVersion in a ``__slots__``
record: 4.8x less memory than dicts and a full collection ~30x shorter, since the collector sees
one object per Pod. orjson's output keeps spare buffer capacity (8.3 KiB for a 3.6 KB document),
so :func:`stored.encode` copies it to an exact-size ``bytes`` for 0.3 us. zlib would save 2 KiB
more per Pod but doubles ingest. What the daemon keeps is the *transformed* document (~1.2 KB
for a Pod), and with ``compress`` (the default) the Store packs it with zstd and a dictionary
learnt from the resource's first documents (``informer/codec.py``): ~100 bytes, +3 us per
ingest and +0.9 us per ``document`` read. Measured end to end (``python -m bench``), resident
memory per mirrored Pod at 100k went from 2.06 to 1.04 KiB for 8% of initial-sync throughput.
``get`` decodes on demand and deep-freezes (~37 us); hot paths use ``get_stored(key).document``.
"""

from __future__ import annotations

import builtins
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from informer_mirror.informer.codec import DocumentCodec
from informer_mirror.informer.stored import (
    ChangeKind,
    ReplaceResult,
    StoreChange,
    StoredObject,
    TransformFunc,
    classify,
    encode,
    object_key,
    strip_managed_fields,
    transform_error_stand_in,
)

__all__ = [
    "NAMESPACE_INDEX",
    "ChangeKind",
    "IndexFunc",
    "ReplaceResult",
    "Store",
    "StoreChange",
    "StoredObject",
    "index_by_namespace",
]

logger = logging.getLogger(__name__)

NAMESPACE_INDEX = "namespace"

PUBLISH_EVERY = 500
"""Records made visible at once while a first list fills an empty store (``replace``)."""
PACK_EVERY = 64
"""Records written by ``update`` (watch events) that are kept unpacked, then packed together.

A watch event's document packed on its own gives the GIL up once per event (zstd; see
``DocumentCodec.pack_many``), which costs the reflector more than packing itself. The last ones
are kept as they are (up to 64 x ~1.2 KB for Pods) and packed in one call; each packed copy
replaces its record unless a newer write replaced it first. Measured on a burst of 10k Pod
updates (six runs each): 13.4k -> 15.1k events/s."""

IndexFunc = Callable[["StoredObject"], Iterable[str]]
"""The values an object is indexed under (none is fine)."""


def index_by_namespace(obj: StoredObject) -> tuple[str]:
    """client-go's ``MetaNamespaceIndexFunc`` (``""`` for cluster-scoped objects). The Store
    registers it under :data:`NAMESPACE_INDEX` and reads the same value from the record itself."""
    return (obj.namespace,)


T = TypeVar("T")
_Values = tuple[str, ...]
_Encoded = tuple[str, str, str, str, bytes, dict[str, Any] | None, bool]
"""An object at ingest: key, namespace, uid, resourceVersion, its document (JSON bytes), that
document decoded (only while index functions other than the namespace one need it), and whether
the transform failed."""


class Store:
    """Thread-safe cache of one resource's objects, keyed ``namespace/name``, with indexes.

    ``transform`` runs once per ingested object, outside the lock, on the caller's dict (it may
    change it in place, as client-go allows since 1.27) and must be idempotent. Index functions
    run at ingest too, on the transformed object (``obj.object`` costs nothing there).
    ``compress`` keeps each document packed (``informer/codec.py``); readers see no difference.
    Stores of one resource (one per watched namespace) should share a ``codec``: each costs
    ~160 KiB once it has learnt its dictionary.
    """

    def __init__(
        self,
        *,
        name: str,
        transform: TransformFunc | None = strip_managed_fields,
        indexers: Mapping[str, IndexFunc] | None = None,
        compress: bool = True,
        codec: DocumentCodec | None = None,
    ) -> None:
        self.name = name
        self._transform = transform
        self._codec = (codec or DocumentCodec()) if compress else None
        self._lock = threading.Lock()
        self._counter_lock = threading.Lock()  # index functions may fail while _lock is held
        self._items: dict[str, StoredObject] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: index_by_namespace}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        # Index values per key, kept so a removal needs neither the old document nor its decode.
        # The built-in namespace index reads them from the record itself and keeps none here.
        self._values: dict[str, dict[str, _Values]] = {}
        self._last_rv = ""
        self._loose: builtins.list[StoredObject] = []
        self._transform_errors = 0
        self._index_errors = 0
        if indexers:
            self.add_indexers(indexers)

    # ---- ingest (outside the lock) --------------------------------------------------------

    def _prepare_all(
        self, raws: Sequence[Mapping[str, Any]], *, pack: bool = True
    ) -> builtins.list[tuple[StoredObject, dict[str, _Values]]]:
        """Records and index values of ``raws``: each transformed and encoded, then all packed
        in one call (``DocumentCodec.pack_many`` says why), then each indexed."""
        encoded = [self._encode(raw) for raw in raws]
        codec = self._codec if pack else None
        packed = (
            codec.pack_many([document for *_, document, _, _ in encoded])
            if codec is not None
            else [(document, False) for *_, document, _, _ in encoded]
        )
        out: builtins.list[tuple[StoredObject, dict[str, _Values]]] = []
        for (key, namespace, uid, rv, _, doc, failed), (data, is_packed) in zip(
            encoded, packed, strict=True
        ):
            record = StoredObject(
                key=key,
                namespace=namespace,
                uid=uid,
                resource_version=rv,
                document=data,
                transform_error=failed,
                codec=codec,
                packed=is_packed,
            )
            out.append((record, self._index_record(record, doc)))
        return out

    def _encode(self, raw: Mapping[str, Any]) -> _Encoded:
        key = object_key(raw)
        metadata: Mapping[str, Any] = raw["metadata"]
        namespace = metadata.get("namespace")
        uid = metadata.get("uid")
        rv = metadata.get("resourceVersion")
        doc: dict[str, Any] = dict(raw) if type(raw) is not dict else raw
        failed = False
        try:
            if self._transform is not None:
                doc = self._transform(doc)
                if not isinstance(doc, dict):
                    raise TypeError(f"transform returned {type(doc).__name__}, not dict")
            document = encode(doc)
        except Exception as e:  # noqa: BLE001 - the transform must be total (pitfall 10)
            doc = self._stand_in(raw, e)
            document = encode(doc)
            failed = True
        if failed:
            with self._counter_lock:
                self._transform_errors += 1
        # Keep the decoded document only for index functions to read. Otherwise it is freed
        # here, while it is still in the CPU's caches, not with the rest of its page. Measured,
        # the reflector's CPU per Pod: in the benchmark's pipeline, 100k Pods, medians of six
        # fresh processes, 44.3 -> 41.2 us; ingesting 10k Pods beside a thread walking a big
        # heap (as the writer does), 32-33 -> 30-31 us; ingesting them alone, unchanged.
        kept = doc if len(self._indexers) > 1 else None
        return (
            key,
            # Interned: a few namespaces are shared by thousands of objects.
            sys.intern(namespace) if isinstance(namespace, str) else "",
            uid if isinstance(uid, str) else "",
            rv if isinstance(rv, str) else "",
            document,
            kept,
            failed,
        )

    def _stand_in(self, raw: Mapping[str, Any], error: Exception) -> dict[str, Any]:
        logger.warning(
            "%s: transform failed for %s (%s); keeping its metadata only",
            self.name,
            object_key(raw),
            type(error).__name__,
        )
        return transform_error_stand_in(raw, error)

    def _index_record(self, record: StoredObject, doc: dict[str, Any] | None) -> dict[str, _Values]:
        # The built-in namespace index (add_indexers refuses to replace it) is the record's own
        # namespace, read without a call, as _old_values_locked reads it: 1.5 us per object.
        # ``doc`` is None when there were no other index functions at encoding (an indexer
        # added since then reads ``record.object``, decoded from the document).
        values: dict[str, _Values] = {NAMESPACE_INDEX: (record.namespace,)}
        if len(self._indexers) > 1:
            object.__setattr__(record, "_decoded", doc)  # index functions read the content free
            try:
                for name, fn in self._indexers.items():
                    if name != NAMESPACE_INDEX:
                        values[name] = self._run_indexer(name, fn, record)
            finally:
                object.__setattr__(record, "_decoded", None)
        return values

    def _run_indexer(self, name: str, fn: IndexFunc, record: StoredObject) -> _Values:
        try:
            values = tuple(dict.fromkeys(fn(record)))
            if not all(isinstance(v, str) for v in values):
                raise TypeError("index values must be str")
        except Exception as e:  # noqa: BLE001 - index functions must be total (client-go panics)
            logger.warning(
                "%s: index %r failed for %s (%s: %s); not indexed there",
                self.name,
                name,
                record.key,
                type(e).__name__,
                e,
            )
            with self._counter_lock:
                self._index_errors += 1
            return ()
        return values

    # ---- index bookkeeping (under the lock) -----------------------------------------------

    def _old_values_locked(self, index: str, record: StoredObject) -> _Values:
        if index == NAMESPACE_INDEX:  # the record's namespace (_index_record)
            return (record.namespace,)
        return self._values[index].get(record.key, ())

    def _unindex_locked(self, record: StoredObject, keep: Mapping[str, _Values]) -> None:
        key = record.key
        for index, by_value in self._indices.items():
            new = keep.get(index, ())
            for value in self._old_values_locked(index, record):
                if value in new:
                    continue
                keys = by_value.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del by_value[value]  # no empty sets left behind (kubernetes#84959)
            if index in self._values:
                self._values[index].pop(key, None)

    def _index_locked(self, record: StoredObject, values: Mapping[str, _Values]) -> None:
        key = record.key
        for index, by_value in self._indices.items():
            new = values.get(index, ())
            for value in new:
                by_value.setdefault(value, set()).add(key)
            if index in self._values and new:
                self._values[index][key] = new

    def _put_locked(
        self, record: StoredObject, values: Mapping[str, _Values]
    ) -> StoredObject | None:
        """Store ``record`` and index it; what its key held before, unindexed."""
        old = self._items.get(record.key)
        self._items[record.key] = record
        if old is not None:
            self._unindex_locked(old, values)
        self._index_locked(record, values)
        return old

    def _apply_locked(self, record: StoredObject, values: Mapping[str, _Values]) -> StoreChange:
        old = self._put_locked(record, values)
        if record.resource_version:
            self._last_rv = record.resource_version
        return StoreChange(kind=classify(old, record), key=record.key, old=old, new=record)

    # ---- writes ---------------------------------------------------------------------------

    def add(self, obj: Mapping[str, Any]) -> StoreChange:
        """Insert or overwrite the object (client-go ``Add``); see :meth:`update`."""
        return self.update(obj)

    def update(self, obj: Mapping[str, Any]) -> StoreChange:
        """Transform, encode and store a raw API object; report what it changed.

        The document is packed later, with the next ones (:data:`PACK_EVERY`). Raises
        ``ValueError`` only for an object without ``metadata.name`` (no key).
        """
        record, values = self._prepare_all([obj], pack=False)[0]
        with self._lock:
            change = self._apply_locked(record, values)
            if self._codec is not None:
                self._loose.append(record)
            full = len(self._loose) >= PACK_EVERY
        if full:
            self._pack_loose()
        return change

    def _pack_loose(self) -> None:
        """Pack the records ``update`` left unpacked; swap in those still current."""
        codec = self._codec
        assert codec is not None
        with self._lock:
            loose, self._loose = self._loose, []
        packed = codec.pack_many([record.document for record in loose])
        with self._lock:
            for record, (data, is_packed) in zip(loose, packed, strict=True):
                if is_packed and self._items.get(record.key) is record:
                    self._items[record.key] = record.repacked(data, codec)

    def delete(self, obj: Mapping[str, Any]) -> StoreChange:
        """Remove the object's key; its resourceVersion (a DELETED event's) becomes the last RV."""
        metadata = obj.get("metadata")
        rv = metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
        return self.delete_key(object_key(obj), resource_version=rv if isinstance(rv, str) else "")

    def delete_key(self, key: str, *, resource_version: str = "") -> StoreChange:
        """Remove ``key``; deleting an unknown key changes nothing (``UNCHANGED``)."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._unindex_locked(old, {})
            if resource_version:
                self._last_rv = resource_version
        kind = ChangeKind.UNCHANGED if old is None else ChangeKind.DELETED
        return StoreChange(kind=kind, key=key, old=old, new=None)

    def replace(
        self,
        items: Iterable[Mapping[str, Any]],
        resource_version: str,
        *,
        on_published: Callable[[builtins.list[StoredObject]], None] | None = None,
    ) -> ReplaceResult:
        """Atomically make the store hold exactly ``items``, a full list at ``resource_version``.

        With ``on_published``, a store that is empty as the list begins (an informer's first
        list) is filled as the items arrive instead: every :data:`PUBLISH_EVERY` records become
        visible at once and are passed to ``on_published`` (the Informer queues their keys, so
        the writer works while the list goes on). There is nothing to keep atomic: a reader sees
        a prefix of the list, as if it came slower. If ``items`` raises part way, that prefix
        stays; the next ``replace`` diffs against it like against any content.
        """
        with self._lock:
            fill = on_published is not None and not self._items
        if fill:
            assert on_published is not None
            return self._fill(items, resource_version, on_published)
        prepared = {
            record.key: (record, values)
            for chunk in _chunks(items, PUBLISH_EVERY)
            for record, values in self._prepare_all(chunk)
        }
        with self._lock:
            old_items = self._items
            self._items = {}
            self._indices = {index: {} for index in self._indexers}
            self._values = {index: {} for index in self._values}
            for record, values in prepared.values():
                self._items[record.key] = record
                self._index_locked(record, values)
            self._last_rv = resource_version
        # old_items is no longer reachable from the store: diff it without the lock.
        added: set[str] = set()
        changed: set[str] = set()
        uid_replaced: set[str] = set()
        for key, (record, _) in prepared.items():
            kind = classify(old_items.get(key), record)
            if kind is ChangeKind.ADDED:
                added.add(key)
            elif kind is not ChangeKind.UNCHANGED:
                changed.add(key)
                if kind is ChangeKind.REPLACED_UID:
                    uid_replaced.add(key)
        tombstones = {key: old for key, old in old_items.items() if key not in prepared}
        return ReplaceResult(
            added=frozenset(added),
            changed=frozenset(changed),
            removed=frozenset(tombstones),
            uid_replaced=frozenset(uid_replaced),
            tombstones=tombstones,
        )

    def _fill(
        self,
        items: Iterable[Mapping[str, Any]],
        resource_version: str,
        on_published: Callable[[builtins.list[StoredObject]], None],
    ) -> ReplaceResult:
        added: set[str] = set()
        for raws in _chunks(items, PUBLISH_EVERY):
            chunk = self._prepare_all(raws)
            with self._lock:
                for record, values in chunk:
                    self._put_locked(record, values)  # a key listed twice: the last one wins
            added.update(record.key for record, _ in chunk)
            on_published([record for record, _ in chunk])
        with self._lock:
            self._last_rv = resource_version
        return ReplaceResult(
            added=frozenset(added),
            changed=frozenset(),
            removed=frozenset(),
            uid_replaced=frozenset(),
            tombstones={},
        )

    def bookmark(self, resource_version: str) -> None:
        """Record a BOOKMARK's resourceVersion as the last applied one."""
        with self._lock:
            self._last_rv = resource_version

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Add indexes; existing objects are indexed at once, decoding each under the lock.

        Meant for start-up: on a full store it blocks writers while it decodes every object.
        """
        with self._lock:
            clash = set(indexers) & set(self._indexers)
            if clash:
                raise ValueError(f"{self.name}: index {sorted(clash)[0]!r} already exists")
            for index, fn in indexers.items():
                self._indexers[index] = fn
                self._indices[index] = {}
                self._values[index] = {}
                for record in self._items.values():
                    values = self._run_indexer(index, fn, record)
                    self._index_locked(record, {index: values})

    # ---- reads ----------------------------------------------------------------------------

    def get_stored(self, key: str) -> StoredObject | None:
        """The record for ``key`` (key, uid, resourceVersion, document bytes) without decoding."""
        with self._lock:
            return self._items.get(key)

    def get_by_key(self, key: str) -> Mapping[str, Any] | None:
        """The read-only object stored under ``key``, or ``None``."""
        record = self.get_stored(key)
        return None if record is None else record.object

    def get(self, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The stored version of ``obj`` (looked up by its key)."""
        return self.get_by_key(object_key(obj))

    def list_stored(self) -> builtins.list[StoredObject]:
        """Every record, undecoded."""
        with self._lock:
            return list(self._items.values())

    def list(self) -> builtins.list[Mapping[str, Any]]:
        """Every object, decoded read-only (costly for big stores: prefer keys or records)."""
        return [record.object for record in self.list_stored()]

    def list_keys(self) -> builtins.list[str]:
        """Every key."""
        with self._lock:
            return list(self._items)

    def index_keys(self, index: str, value: str) -> builtins.list[str]:
        """Keys indexed under ``value`` in ``index`` (``KeyError`` for an unknown index)."""
        with self._lock:
            return list(self._indices[index].get(value, ()))

    def index(self, index: str, value: str) -> builtins.list[Mapping[str, Any]]:
        """Objects indexed under ``value`` in ``index``, decoded read-only."""
        with self._lock:
            records = [self._items[key] for key in self._indices[index].get(value, ())]
        return [record.object for record in records]

    def index_values(self, index: str) -> builtins.list[str]:
        """Every value ``index`` currently has objects under."""
        with self._lock:
            return list(self._indices[index])

    @property
    def last_resource_version(self) -> str:
        """RV of the last applied change, bookmark or replace (``""`` before any)."""
        with self._lock:
            return self._last_rv

    @property
    def transform_errors(self) -> int:
        """Objects whose transform failed (kept as metadata-only stand-ins)."""
        with self._counter_lock:
            return self._transform_errors

    @property
    def index_errors(self) -> int:
        """Index function calls that raised (the object was indexed under nothing there)."""
        with self._counter_lock:
            return self._index_errors

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items


def _chunks(items: Iterable[T], size: int) -> Iterator[builtins.list[T]]:
    """``items`` in lists of ``size`` (the last one shorter), taken as they come."""
    chunk: builtins.list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
