"""The simulated cluster's truth: every object of every kind, one global resourceVersion, history.

Place in the data flow: the bottom of ``sim/``. The HTTP server (``sim/handler.py``, request
threads), the object factories and churn generator (``sim/objects.py``, ``sim/churn.py``, their own
thread) and tests all read and write through :class:`ClusterState`; writes fan out to open watches
(``sim/watchers.py``). It behaves like etcd plus the apiserver's registry and watch cache:

- one resourceVersion counter across all kinds, bumped by every write;
- objects get ``uid``, ``creationTimestamp``, ``resourceVersion`` and ``generation`` from the
  server; a replace bumps ``generation`` only when something outside ``metadata``/``status``
  changed, and a replace that changes nothing is a no-op (no new RV, no event), as in the real
  apiserver;
- deleting an object that carries ``metadata.finalizers`` only sets ``deletionTimestamp``
  (MODIFIED); it disappears (DELETED) once an update removes the last finalizer. Deleting a
  namespace deletes everything in it first (immediately; the real namespace controller takes a
  while);
- per kind, a bounded history of events with each object's previous state (``sim/table.py``): it
  replays watches from an old RV and reconstructs the state at an old RV for consistent pages;
  :meth:`ClusterState.expire_history` compacts it, so older RVs answer 410 Expired.

Objects handed out are fresh dicts, complete with ``kind`` and ``apiVersion`` (as a GET returns
them); objects handed in are copied. Internally each version is immutable JSON bytes. One lock
guards everything; it is held only for in-memory work, never across I/O.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from informer_mirror.kinds import BUILTIN_KINDS, KindInfo
from informer_mirror.sim.apierrors import (
    SimBadRequest,
    SimConflict,
    SimError,
    SimExpired,
    SimInvalid,
    SimNotFound,
    SimTooLarge,
    already_exists,
    invalid_field,
    modified_conflict,
    not_found,
    qualified,
)
from informer_mirror.sim.selectors import EVERYTHING, Selector
from informer_mirror.sim.table import (
    ADDED,
    DELETED,
    MODIFIED,
    HistoryEvent,
    KindTable,
    Page,
    StoredObject,
    canonical_form,
    key_of,
    spec_part,
    stored_object,
)
from informer_mirror.sim.watchers import Watcher

Obj = dict[str, Any]

__all__ = [
    "ClusterState",
    "SimBadRequest",
    "SimConflict",
    "SimError",
    "SimExpired",
    "SimInvalid",
    "SimNotFound",
    "SimTooLarge",
]

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _copy_in(obj: Any) -> Obj:
    if not isinstance(obj, dict):
        raise SimBadRequest("the request body must be a JSON object")
    try:
        copy: Obj = orjson.loads(orjson.dumps(obj))
    except (TypeError, orjson.JSONEncodeError) as e:
        raise SimBadRequest(f"the object is not serializable as JSON: {e}") from e
    meta = copy.get("metadata")
    if meta is None:
        copy["metadata"] = {}
    elif not isinstance(meta, dict):
        raise SimBadRequest("metadata must be a JSON object")
    return copy


class ClusterState:
    """All objects of the simulated cluster. Thread-safe; see the module docstring."""

    def __init__(
        self,
        *,
        kinds: Iterable[KindInfo] = BUILTIN_KINDS,
        history_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if history_size < 1:
            raise ValueError("history_size must be >= 1")
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._rv = 1  # a fresh etcd has already seen a write or two
        self._clock = clock
        self._history_size = history_size
        self._tables: dict[tuple[str, str], KindTable] = {}
        self._rng = random.Random()  # noqa: S311 - generateName suffixes, not secrets
        for kind in kinds:
            self.register_kind(kind)

    # -- kinds -----------------------------------------------------------------------------------

    def register_kind(self, kind: KindInfo) -> None:
        """Serve a new kind (a CRD) from now on. Registering the same kind twice is a no-op."""
        with self._lock:
            existing = self._tables.get((kind.group, kind.plural))
            if existing is not None:
                if existing.kind != kind:
                    raise ValueError(f"{qualified(kind)} is already registered as {existing.kind}")
                return
            self._tables[(kind.group, kind.plural)] = KindTable(
                kind, history_size=self._history_size
            )

    def kinds(self) -> list[KindInfo]:
        """Every registered kind, in registration order."""
        with self._lock:
            return [t.kind for t in self._tables.values()]

    def kind(self, plural: str, group: str | None = None) -> KindInfo:
        """The kind served as ``plural`` (or ``plural.group``); KeyError if unknown or ambiguous."""
        with self._lock:
            return self._table(plural, group).kind

    def _table(self, plural: str, group: str | None = None) -> KindTable:
        if group is None and "." in plural:
            plural, group = plural.split(".", 1)
        if group is not None:
            return self._tables[(group, plural)]
        found = [t for (_g, p), t in self._tables.items() if p == plural]
        if len(found) != 1:
            raise KeyError(
                f"unknown resource {plural!r}" if not found else f"ambiguous resource {plural!r}"
            )
        return found[0]

    @property
    def resource_version(self) -> int:
        """The current global resourceVersion (etcd's revision)."""
        with self._lock:
            return self._rv

    def _current_rv(self) -> int:
        return self._rv  # the caller holds the lock (watchers reading a bookmark RV)

    # -- writes ----------------------------------------------------------------------------------

    def _next_rv(self) -> int:
        self._rv += 1
        self._changed.notify_all()
        return self._rv

    def _now(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock()))

    def _identify(self, kind: KindInfo, meta: Obj) -> tuple[str, str]:
        name = meta.get("name") or ""
        if not isinstance(name, str) or "/" in name:
            raise invalid_field(
                kind,
                str(name),
                "metadata.name",
                "Invalid value: a lowercase RFC 1123 subdomain must consist of lower case "
                "alphanumeric characters, '-' or '.'",
            )
        if not kind.namespaced:
            meta.pop("namespace", None)
            return "", name
        namespace = meta.get("namespace") or ""
        if not isinstance(namespace, str) or not namespace:
            raise invalid_field(kind, name, "metadata.namespace", "Required value")
        return namespace, name

    def create(self, plural: str, obj: Obj) -> Obj:
        """Create ``obj`` (POST). 409 AlreadyExists, 404 if its namespace does not exist,
        422 without a name (``generateName`` is honoured), 400 if it carries a resourceVersion."""
        obj = _copy_in(obj)
        meta: Obj = obj["metadata"]
        if meta.get("resourceVersion"):
            raise SimBadRequest("resourceVersion should not be set on objects to be created")
        with self._lock:
            table = self._table(plural)
            kind = table.kind
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise invalid_field(
                        kind,
                        "",
                        "metadata.name",
                        "Required value: name or generateName is required",
                    )
                meta["name"] = self._generate_name(table, meta)
            namespace, name = self._identify(kind, meta)
            namespaces = self._tables.get(("", "namespaces"))
            if namespace and namespaces is not None and namespace not in namespaces.objects:
                raise not_found(namespaces.kind, namespace)
            if key_of(namespace, name) in table.objects:
                raise already_exists(kind, name)
            rv = self._next_rv()
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = self._now()
            meta["resourceVersion"] = str(rv)
            meta["generation"] = 1
            meta.pop("deletionTimestamp", None)
            meta.pop("deletionGracePeriodSeconds", None)
            canonical = canonical_form(obj, meta)
            stored = stored_object(kind, canonical, rv)
            table.apply(HistoryEvent(rv, ADDED, stored, None))
        return self._full(kind, canonical)

    def _generate_name(self, table: KindTable, meta: Obj) -> str:
        namespace = (meta.get("namespace") or "") if table.kind.namespaced else ""
        while True:  # the apiserver retries generateName collisions too
            name = str(meta["generateName"]) + "".join(self._rng.choices(_NAME_ALPHABET, k=5))
            if key_of(namespace, name) not in table.objects:
                return name

    def update(self, plural: str, obj: Obj) -> Obj:
        """Replace ``obj`` (PUT). 404 if absent; 409 if it carries a resourceVersion that is not
        current (none means unconditional). Returns the stored object (unchanged on a no-op)."""
        obj = _copy_in(obj)
        meta: Obj = obj["metadata"]
        with self._lock:
            table = self._table(plural)
            kind = table.kind
            namespace, name = self._identify(kind, meta)
            existing = table.objects.get(key_of(namespace, name))
            if existing is None:
                raise not_found(kind, name)
            sent_rv = meta.get("resourceVersion")
            if sent_rv not in (None, "") and str(sent_rv) != str(existing.rv):
                raise modified_conflict(kind, name)
            old: Obj = orjson.loads(existing.body)
            old_meta: Obj = old["metadata"]
            for field in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ):
                if field in old_meta:
                    meta[field] = old_meta[field]
                else:
                    meta.pop(field, None)
            meta["resourceVersion"] = old_meta["resourceVersion"]
            generation = int(old_meta.get("generation", 1))
            if spec_part(obj) != spec_part(old):
                generation += 1
            meta["generation"] = generation
            canonical = canonical_form(obj, meta)
            if canonical == old:
                return self._full(kind, old)  # a no-op update writes nothing
            if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                return self._remove(table, existing, canonical)
            rv = self._next_rv()
            meta["resourceVersion"] = str(rv)
            canonical["metadata"]["resourceVersion"] = str(rv)
            stored = stored_object(kind, canonical, rv)
            table.apply(HistoryEvent(rv, MODIFIED, stored, existing))
        return self._full(kind, canonical)

    def delete(self, plural: str, namespace: str | None, name: str) -> Obj:
        """Delete an object (DELETE); 404 if absent. Returns the object as it was stored before
        the deletion (as the real server does); with finalizers: the object now terminating."""
        with self._lock:
            table = self._table(plural)
            kind = table.kind
            existing = table.objects.get(key_of((namespace or "") if kind.namespaced else "", name))
            if existing is None:
                raise not_found(kind, name)
            old: Obj = orjson.loads(existing.body)
            meta: Obj = old["metadata"]
            if meta.get("finalizers"):
                if meta.get("deletionTimestamp"):
                    return self._full(kind, old)
                rv = self._next_rv()
                terminating: Obj = orjson.loads(existing.body)
                terminating["metadata"]["resourceVersion"] = str(rv)
                terminating["metadata"]["deletionTimestamp"] = self._now()
                terminating["metadata"]["deletionGracePeriodSeconds"] = 0
                terminating = canonical_form(terminating, terminating["metadata"])
                stored = stored_object(kind, terminating, rv)
                table.apply(HistoryEvent(rv, MODIFIED, stored, existing))
                return self._full(kind, terminating)
            if kind.group == "" and kind.plural == "namespaces":
                for other in self._tables.values():
                    if other.kind.namespaced:
                        for key in [k for k in other.keys if k.startswith(name + "/")]:
                            self._remove(
                                other, other.objects[key], orjson.loads(other.objects[key].body)
                            )
            self._remove(table, existing, old)
            return self._full(kind, old)

    def _remove(self, table: KindTable, existing: StoredObject, last: Obj) -> Obj:
        rv = self._next_rv()
        final = dict(last)
        final["metadata"] = dict(last["metadata"], resourceVersion=str(rv))
        stored = stored_object(table.kind, final, rv)
        table.apply(HistoryEvent(rv, DELETED, stored, existing))
        return self._full(table.kind, final)

    def expire_history(self, plural: str | None = None) -> None:
        """Compact the history of one kind (or all): every RV handed out so far becomes too old
        for watches and continue tokens. Advances the global RV, as any etcd write would."""
        with self._lock:
            tables = [self._table(plural)] if plural is not None else list(self._tables.values())
            rv = self._next_rv()
            for table in tables:
                table.compact(rv)

    # -- reads -----------------------------------------------------------------------------------

    @staticmethod
    def _full(kind: KindInfo, obj: Obj) -> Obj:
        return {"kind": kind.kind, "apiVersion": kind.api_version, **obj}

    def get(self, plural: str, namespace: str | None, name: str) -> Obj:
        """One object (GET); SimNotFound if absent."""
        with self._lock:
            table = self._table(plural)
            kind = table.kind
            found = table.objects.get(key_of((namespace or "") if kind.namespaced else "", name))
            if found is None:
                raise not_found(kind, name)
            body = found.body
        return self._full(kind, orjson.loads(body))

    def list_objects(self, plural: str, namespace: str | None = None) -> list[Obj]:
        """Current objects of a kind (in one namespace), in key order."""
        page, _rv = self.list_page(plural, namespace=namespace)
        kind = self.kind(plural)
        return [self._full(kind, orjson.loads(o.body)) for o in page.items]

    def snapshot(self) -> dict[str, dict[str, Obj]]:
        """``plural -> key -> object`` for every kind (``plural.group`` where a plural repeats)."""
        with self._lock:
            tables = list(self._tables.values())
            plurals = [t.kind.plural for t in tables]
            raw = {
                (t.kind.plural if plurals.count(t.kind.plural) == 1 else qualified(t.kind)): (
                    t.kind,
                    [(k, t.objects[k].body) for k in t.keys],
                )
                for t in tables
            }
        return {
            name: {key: self._full(kind, orjson.loads(body)) for key, body in items}
            for name, (kind, items) in raw.items()
        }

    def counts(self) -> dict[str, int]:
        """``plural -> number of objects`` (``plural.group`` for non-core kinds)."""
        with self._lock:
            return {qualified(t.kind): len(t.objects) for t in self._tables.values()}

    def wait_for_resource_version(self, rv: int, timeout: float) -> bool:
        """Block until the global RV reaches ``rv`` (True) or ``timeout`` seconds pass (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._rv >= rv, timeout)

    def list_page(
        self,
        plural: str,
        *,
        namespace: str | None = None,
        selector: Selector = EVERYTHING,
        at_rv: int | None = None,
        start: str = "",
        limit: int = 0,
    ) -> tuple[Page, int]:
        """One page of a list at ``at_rv`` (None: now), from storage key ``start`` on.

        Returns the page and the RV it reflects. Raises SimExpired when ``at_rv`` is older than
        the kind's compaction point, SimTooLarge when it is newer than the current RV.
        """
        with self._lock:
            table = self._table(plural)
            current = self._rv
            rv = current if at_rv is None else at_rv
            if rv > current:
                raise SimTooLarge(rv, current)
            if rv < table.compacted_rv:
                raise SimExpired("The resourceVersion for the provided list is too old.")
            page = table.page(
                rv=rv,
                current_rv=current,
                namespace=namespace,
                selector=selector,
                start=start,
                limit=limit,
            )
        return page, rv

    # -- watches ---------------------------------------------------------------------------------

    def watch(
        self,
        plural: str,
        *,
        namespace: str | None = None,
        selector: Selector = EVERYTHING,
        since_rv: int | None = None,
        initial: bool = False,
        stalled: bool = False,
    ) -> Watcher:
        """Open a watch. ``since_rv``: replay retained events after it (SimExpired when older than
        the compaction point, SimTooLarge when newer than now). Otherwise start now, with the
        current matching objects in ``watcher.initial`` when ``initial``. The caller must call
        ``watcher.unregister()`` when the stream ends."""
        with self._lock:
            table = self._table(plural)
            watcher = Watcher(
                kind=table.kind,
                namespace=namespace,
                selector=selector,
                cond=threading.Condition(self._lock),
                current_rv=self._current_rv,
                max_queue=self._history_size,
                stalled=stalled,
            )
            if since_rv is not None:
                if since_rv > self._rv:
                    raise SimTooLarge(since_rv, self._rv)
                if since_rv < table.compacted_rv:
                    raise SimExpired(f"too old resource version: {since_rv} ({table.compacted_rv})")
                watcher.start_rv = since_rv
                watcher.preload(table.events_after(since_rv))
            else:
                watcher.start_rv = self._rv
                if initial:
                    watcher.initial = table.page(
                        rv=self._rv,
                        current_rv=self._rv,
                        namespace=watcher.namespace,
                        selector=selector,
                        start="",
                        limit=0,
                    ).items
            table.watchers.add(watcher)

            def unregister() -> None:
                with self._lock:
                    table.watchers.discard(watcher)

            watcher.unregister = unregister
        return watcher
