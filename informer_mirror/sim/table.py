"""One kind's data inside the simulated cluster: current objects, key order, retained event history.

Place in the data flow: owned by ``ClusterState`` (one :class:`KindTable` per kind) and only ever
touched while the state's lock is held, by whichever thread called the state (HTTP request threads,
the churn thread, tests). It plays the part of etcd's key range for one resource plus the
apiserver's watch cache for it:

- ``objects`` maps the storage key (``namespace/name``, or ``name`` for cluster-scoped kinds) to an
  immutable :class:`StoredObject` holding the object's JSON bytes *without*
  ``kind``/``apiVersion``, so a 100k-item list is a join of byte strings and a watch event a
  concatenation;
- ``keys`` is the sorted key list (etcd returns ranges in key order; pagination walks it);
- ``history`` holds the last ``history_size`` events with the previous state of each object, which
  serves watches from an old resourceVersion and reconstructs the state *at* an older RV for
  consistent paginated lists (undo the retained events newer than that RV);
- ``compacted_rv`` is the compaction point: every event with an RV above it is retained, so any RV
  ``>= compacted_rv`` can be served; anything older is "too old" (410 Expired).

It also defines that stored form: :func:`canonical_form` (metadata first, in the apiserver's field
order) and :func:`stored_object` (bytes plus the parsed namespace, name, labels and fields).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from informer_mirror.kinds import KindInfo
from informer_mirror.sim.selectors import Selector, selectable_fields

if TYPE_CHECKING:
    from informer_mirror.sim.watchers import Watcher

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One version of one object, immutable once built."""

    key: str
    namespace: str
    """``""`` for cluster-scoped kinds."""
    name: str
    rv: int
    labels: Mapping[str, str]
    fields: Mapping[str, str]
    """Selectable fields (``metadata.name`` ...), see ``selectors.selectable_fields``."""
    body: bytes
    """The object's JSON without ``kind`` and ``apiVersion``: ``{"metadata":...}``."""


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """A change: ``obj`` is the new state (for DELETED: the final state, with the deletion's RV);
    ``prev`` the state before (None for ADDED)."""

    rv: int
    type: str
    obj: StoredObject
    prev: StoredObject | None


@dataclass(frozen=True, slots=True)
class Page:
    """A (possibly partial) list result at one resourceVersion."""

    items: list[StoredObject]
    last_key: str | None
    """Key of the last item returned, when more items follow (the continue position)."""
    remaining: int | None
    """Items after this page, when more follow and the selector is empty (else None)."""


def key_of(namespace: str, name: str) -> str:
    """Storage key: ``namespace/name`` for namespaced objects, ``name`` otherwise."""
    return f"{namespace}/{name}" if namespace else name


# -- the stored form of an object ---------------------------------------------------------------

_META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


def canonical_form(obj: Obj, meta: Obj) -> Obj:
    """``obj`` without kind/apiVersion, metadata first and in the apiserver's field order."""
    ordered = {k: meta[k] for k in _META_ORDER if k in meta}
    ordered.update((k, v) for k, v in meta.items() if k not in ordered)
    out: Obj = {"metadata": ordered}
    out.update((k, v) for k, v in obj.items() if k not in ("kind", "apiVersion", "metadata"))
    return out


def spec_part(obj: Obj) -> Obj:
    """What ``generation`` tracks: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion", "metadata", "status")}


def stored_object(kind: KindInfo, obj: Obj, rv: int) -> StoredObject:
    """The immutable stored form of ``obj`` (canonical, without kind/apiVersion) at ``rv``."""
    meta = obj["metadata"]
    labels = meta.get("labels")
    namespace = meta.get("namespace", "") if kind.namespaced else ""
    return StoredObject(
        key=key_of(namespace, meta["name"]),
        namespace=namespace,
        name=meta["name"],
        rv=rv,
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        fields=selectable_fields(kind, obj),
        body=orjson.dumps(obj),
    )


class KindTable:
    """Objects and retained history of one kind. Not thread-safe: the caller holds the lock."""

    def __init__(self, kind: KindInfo, *, history_size: int) -> None:
        self.kind = kind
        self.objects: dict[str, StoredObject] = {}
        self.keys: list[str] = []
        self.history: deque[HistoryEvent] = deque()
        self.history_size = history_size
        self.compacted_rv = 0
        self.watchers: set[Watcher] = set()

    # -- writes ---------------------------------------------------------------------------------

    def apply(self, event: HistoryEvent) -> None:
        """Record ``event`` in the current state and the history, then hand it to the watchers."""
        key = event.obj.key
        if event.type == DELETED:
            del self.objects[key]
            del self.keys[bisect_left(self.keys, key)]
        else:
            if key not in self.objects:
                insort(self.keys, key)
            self.objects[key] = event.obj
        self.history.append(event)
        while len(self.history) > self.history_size:
            self.compacted_rv = self.history.popleft().rv
        for watcher in self.watchers:
            watcher.offer(event)

    def compact(self, rv: int) -> None:
        """Forget all history: RVs older than ``rv`` are now "too old"."""
        self.history.clear()
        self.compacted_rv = max(self.compacted_rv, rv)

    # -- reads ----------------------------------------------------------------------------------

    def events_after(self, rv: int) -> list[HistoryEvent]:
        """Retained events with an RV above ``rv``, oldest first (caller checked compaction)."""
        out: list[HistoryEvent] = []
        for event in reversed(self.history):
            if event.rv <= rv:
                break
            out.append(event)
        out.reverse()
        return out

    def overlay_at(self, rv: int) -> dict[str, StoredObject | None]:
        """The keys whose state at ``rv`` differs from now, mapped to that state (None: absent)."""
        overlay: dict[str, StoredObject | None] = {}
        for event in reversed(self.history):
            if event.rv <= rv:
                break
            overlay[event.obj.key] = event.prev  # earlier events overwrite later ones
        return overlay

    def _range(self, namespace: str | None) -> tuple[str, str | None]:
        if namespace is not None and self.kind.namespaced:
            # "0" is the character after "/": the half-open range of keys "ns/..."
            return namespace + "/", namespace + "0"
        return "", None

    def _walk(
        self, start: str, hi: str | None, overlay: Mapping[str, StoredObject | None]
    ) -> Iterator[tuple[str, StoredObject | None]]:
        """Every key ``>= start`` (and ``< hi``) present now or at the overlay's RV, in order."""
        keys = self.keys
        i = bisect_left(keys, start)
        j = len(keys) if hi is None else bisect_left(keys, hi)
        gone = sorted(
            k for k in overlay if k not in self.objects and k >= start and (hi is None or k < hi)
        )
        current = (keys[x] for x in range(i, j))
        objects = self.objects
        for key in heapq.merge(current, gone):
            if key in overlay:
                yield key, overlay[key]
            else:
                yield key, objects[key]

    def page(
        self,
        *,
        rv: int,
        current_rv: int,
        namespace: str | None,
        selector: Selector,
        start: str,
        limit: int,
    ) -> Page:
        """Up to ``limit`` (0: all) matching items in key order, from key ``start`` on, as the
        state stood at ``rv`` (the caller checked ``rv >= compacted_rv``)."""
        overlay = self.overlay_at(rv) if rv < current_rv else {}
        lo, hi = self._range(namespace)
        start = max(start, lo)
        items: list[StoredObject] = []
        walker = self._walk(start, hi, overlay)
        sel_empty = selector.empty
        for _key, obj in walker:
            if obj is None or not (sel_empty or selector.matches(obj.labels, obj.fields)):
                continue
            if limit and len(items) == limit:
                # one more match exists: this page is not the last
                last = items[-1].key
                remaining = self._count_after(last, hi, overlay) if sel_empty else None
                return Page(items=items, last_key=last, remaining=remaining)
            items.append(obj)
        return Page(items=items, last_key=None, remaining=None)

    def _count_after(
        self, last: str, hi: str | None, overlay: Mapping[str, StoredObject | None]
    ) -> int:
        keys = self.keys
        i = bisect_left(keys, last + "\x00")
        j = len(keys) if hi is None else bisect_left(keys, hi)
        count = j - i
        for key, then in overlay.items():
            if key > last and (hi is None or key < hi):
                count += (then is not None) - (key in self.objects)
        return count
