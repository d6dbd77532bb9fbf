"""Informer: one resource's Reflector, Store and event delivery, wired together; InformerSet: many.

Place in the data flow: ``Reflector`` -> **Informer** -> ``Store`` (the cache) and ``WorkQueue``
(keys of changed objects, shared by every informer and drained by the BatchWriter) and any
registered event handlers (history, webhooks...). Events are applied on the reflector thread
``reflector/<name>``; the optional resync runs on ``resync/<name>``; ``has_synced``/``state`` may be
read from any thread.

client-go's SharedIndexInformer, as informer-semantics.md §2.4 specifies it:

* every watch event updates the Store (its transform runs there, once) and enqueues the key, unless
  the Store reports no change (same UID and resourceVersion): relist noise stays out of the queue;
* a relist is applied with one ``Store.replace``; keys known before but missing from the list were
  deleted while nobody watched, and are delivered as deletes (pitfall 1). Callbacks follow
  ``processReplacedAllInfo`` (controller.go L756-800): all deletes first, then adds/updates;
* the key is namespace/name, so a different UID under the same key is a delete plus a create;
* ``has_synced`` turns true once the first complete list is in the Store and its keys are queued;
* resync re-enqueues every cached key and makes no API request (shared_informer.go L155-168): it
  repairs the backend from the cache, it is not a relist;
* handlers are called sequentially, in order per object, on the reflector thread; an exception is
  logged and counted and the next handler still runs. Register them before ``start``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from informer_mirror.informer.reflector import Reflector, Wait
from informer_mirror.informer.reflector_types import (
    ReflectorOptions,
    ReflectorState,
)
from informer_mirror.informer.store import ChangeKind, IndexFunc, Store, StoreChange
from informer_mirror.informer.stored import StoredObject, TransformFunc, strip_managed_fields
from informer_mirror.informer.workqueue import WorkQueue
from informer_mirror.kube.listwatch import ListerWatcher
from informer_mirror.retry import (
    BackoffPolicy,
    BreakerPolicy,
    CircuitBreaker,
    ClientGoBackoff,
)

log = logging.getLogger(__name__)

QueueKey = tuple[str, str]
"""What an informer puts in the shared WorkQueue: ``(resource name, "namespace/name")``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventHandler:
    """Callbacks for one consumer. Each is optional; they must return quickly."""

    on_add: Callable[[StoredObject], None] | None = None
    """A new key (or a recreated object: the delete of the old UID comes first)."""
    on_update: Callable[[StoredObject, StoredObject], None] | None = None
    """``(old, new)`` for a changed object; ``old is new`` for a resync delivery."""
    on_delete: Callable[[StoredObject], None] | None = None
    """The last known state of a deleted object (possibly stale after a relist)."""
    resync: bool = False
    """Also receive ``on_update(obj, obj)`` for every cached object at each resync."""


class Informer:
    """List + watch one resource into a Store, enqueue changed keys, notify handlers."""

    def __init__(
        self,
        *,
        name: str,
        lister_watcher: ListerWatcher,
        queue: WorkQueue[Any] | None = None,
        store: Store | None = None,
        transform: TransformFunc | None = strip_managed_fields,
        indexers: Mapping[str, IndexFunc] | None = None,
        resync_period: float = 0.0,
        reflector_options: ReflectorOptions | None = None,
        backoff_policy: BackoffPolicy | None = None,
        breaker_policy: BreakerPolicy | None = None,
        resource_version: str | None = None,
        queue_key: Callable[[str], Hashable] | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        wait: Wait | None = None,
    ) -> None:
        """``store``: pass one seeded with the backend's state so a relist finds the deletes that
        happened while the daemon was down; then pass its ``resource_version`` too, or ``""``
        when unknown (the first list is then a consistent read, never "0": pitfall 3)."""
        if resync_period < 0:
            raise ValueError(f"{name}: resync_period must be >= 0 (0 turns resync off)")
        self.name = name
        # "is None", not "or": an empty Store is falsy (it has a length), and still the one to use
        self.store = (
            store if store is not None else Store(name=name, transform=transform, indexers=indexers)
        )
        self.queue = queue
        self._queue_key = queue_key or (lambda key: (name, key))
        self._resync_period = resync_period
        self._stop = stop or threading.Event()
        self._handlers: tuple[EventHandler, ...] = ()
        self._synced = threading.Event()
        self._started = False
        self._resync_thread: threading.Thread | None = None
        self._errors_lock = threading.Lock()
        self._handler_errors = 0
        rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        if resource_version is None and len(self.store):
            resource_version = ""  # state of unknown age: a consistent first list
        self.reflector = Reflector(
            name=name,
            lister_watcher=lister_watcher,
            store=_InformerSink(self),
            options=reflector_options,
            backoff=ClientGoBackoff(backoff_policy, clock=clock, rng=rng),
            breaker=CircuitBreaker(breaker_policy, name=f"reflector/{name}", clock=clock),
            resource_version=resource_version,
            stop=self._stop,
            clock=clock,
            rng=rng,
            wait=wait,
        )

    # -- consumers -------------------------------------------------------------------------------

    def add_event_handler(self, handler: EventHandler) -> None:
        """Register a consumer. Only before ``start``: then it sees every object from the start."""
        if self._started:
            raise RuntimeError(f"{self.name}: add event handlers before starting the informer")
        self._handlers = (*self._handlers, handler)

    @property
    def has_synced(self) -> bool:
        """True once the first complete list is in the Store and its keys are queued."""
        return self._synced.is_set()

    def wait_for_sync(self, timeout: float | None = None) -> bool:
        """Block until synced, stopped or ``timeout`` elapsed; True if synced."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._synced.is_set():
            if self._stop.is_set():
                return False
            remaining = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if remaining <= 0:
                return False
            self._synced.wait(remaining)  # client-go polls every 100 ms too
        return True

    def state(self) -> ReflectorState:
        """The reflector's progress snapshot."""
        return self.reflector.state()

    @property
    def handler_errors(self) -> int:
        """Exceptions raised by event handlers (logged and swallowed)."""
        with self._errors_lock:
            return self._handler_errors

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start ``reflector/<name>`` and, if a resync period is set, ``resync/<name>``."""
        if self._started:
            raise RuntimeError(f"{self.name}: informer already started")
        self._started = True
        self.reflector.start()
        if self._resync_period > 0:
            self._resync_thread = threading.Thread(
                target=self._resync_loop, name=f"resync/{self.name}", daemon=True
            )
            self._resync_thread.start()

    def stop(self) -> None:
        """Ask the threads to end and wake a blocked watch read at once. Setting a shared
        ``stop`` event alone ends the loops too, but a reader blocked on a silent connection
        would only notice at its read timeout: always stop through here (or InformerSet)."""
        self.reflector.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the threads; True if all ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ok = self.reflector.join(timeout)
        if self._resync_thread is not None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._resync_thread.join(left)
            ok = ok and not self._resync_thread.is_alive()
        return ok

    # -- resync ----------------------------------------------------------------------------------

    def resync(self) -> int:
        """Re-enqueue every cached key (no API request); returns how many."""
        records = self.store.list_stored()
        for record in records:
            self._enqueue(record.key)
            for handler in self._handlers:
                if handler.resync and handler.on_update is not None:
                    self._call(handler.on_update, record, record)
        log.debug("%s: resync re-enqueued %d keys", self.name, len(records))
        return len(records)

    def _resync_loop(self) -> None:
        while not self._stop.wait(self._resync_period):
            try:
                self.resync()
            except Exception:  # the thread's top-level loop: log and keep the schedule
                log.exception("%s: resync failed", self.name)

    # -- event application (reflector thread) ---------------------------------------------------

    def _on_upsert(self, obj: dict[str, Any]) -> None:
        self._deliver(self.store.update(obj))

    def _on_delete(self, obj: dict[str, Any]) -> None:
        change = self.store.delete(obj)
        # Enqueue even an unknown key: the backend may hold it from before a restart, and the
        # writer treats "absent from the Store" as delete, idempotently.
        self._enqueue(change.key)
        if change.old is not None:
            for handler in self._handlers:
                if handler.on_delete is not None:
                    self._call(handler.on_delete, change.old)

    def _deliver(self, change: StoreChange) -> None:
        if not change.changed:
            return
        self._enqueue(change.key)
        if not self._handlers:
            return
        old, new = change.old, change.new
        if change.kind is ChangeKind.REPLACED_UID and old is not None:
            self._notify_delete(old)
            old = None
        if new is None:
            return
        if old is None:
            self._notify_add(new)
        else:
            self._notify_update(old, new)

    def _on_replace(self, items: Iterable[dict[str, Any]], resource_version: str) -> None:
        before = {r.key: r for r in self.store.list_stored()} if self._handlers else {}
        # Into an empty store (the first list) records are published as the pages arrive
        # (Store.replace): queue and announce them at once, so the writer overlaps the list.
        early: set[str] = set()

        def published(records: list[StoredObject]) -> None:
            keys = [record.key for record in records]
            early.update(keys)
            self._enqueue_many(keys)
            if self._handlers:
                for record in records:
                    self._notify_add(record)

        result = self.store.replace(items, resource_version, on_published=published)
        self._enqueue_many(result.removed)
        self._enqueue_many(key for key in (*result.added, *result.changed) if key not in early)
        if self._handlers:
            # processReplacedAllInfo: every delete first, then adds and updates.
            for key in result.uid_replaced:
                self._notify_delete(before[key])
            for tombstone in result.tombstones.values():
                self._notify_delete(tombstone)
            for key in (*result.added, *result.changed):
                if key in early:
                    continue
                new = self.store.get_stored(key)
                if new is None:
                    continue
                old = None if key in result.uid_replaced else before.get(key)
                if old is None:
                    self._notify_add(new)
                else:
                    self._notify_update(old, new)
        log.info(
            "%s: replaced at RV %s: %d added, %d changed, %d removed",
            self.name,
            resource_version,
            len(result.added),
            len(result.changed),
            len(result.removed),
        )
        self._synced.set()

    def _enqueue(self, key: str) -> None:
        if self.queue is not None:
            self.queue.add(self._queue_key(key))

    def _enqueue_many(self, keys: Iterable[str]) -> None:
        if self.queue is not None:
            self.queue.add_many(map(self._queue_key, keys))

    def _notify_add(self, obj: StoredObject) -> None:
        for handler in self._handlers:
            if handler.on_add is not None:
                self._call(handler.on_add, obj)

    def _notify_update(self, old: StoredObject, new: StoredObject) -> None:
        for handler in self._handlers:
            if handler.on_update is not None:
                self._call(handler.on_update, old, new)

    def _notify_delete(self, obj: StoredObject) -> None:
        for handler in self._handlers:
            if handler.on_delete is not None:
                self._call(handler.on_delete, obj)

    def _call(self, fn: Callable[..., None], *args: StoredObject) -> None:
        try:
            fn(*args)
        except Exception:  # a consumer's bug must not stop the informer
            with self._errors_lock:
                self._handler_errors += 1
            log.exception("%s: event handler %r failed for %s", self.name, fn, args[-1].key)


class _InformerSink:
    """The ``ReflectorStore`` the reflector writes into: routes to the Informer's handlers."""

    def __init__(self, informer: Informer) -> None:
        self._informer = informer

    def add(self, obj: dict[str, Any]) -> None:
        self._informer._on_upsert(obj)

    def update(self, obj: dict[str, Any]) -> None:
        self._informer._on_upsert(obj)

    def delete(self, obj: dict[str, Any]) -> None:
        self._informer._on_delete(obj)

    def replace(self, items: Iterable[dict[str, Any]], resource_version: str) -> None:
        self._informer._on_replace(items, resource_version)

    def bookmark(self, resource_version: str) -> None:
        self._informer.store.bookmark(resource_version)


class InformerSet:
    """Several informers started, synced and stopped together (one per configured resource)."""

    def __init__(self, informers: Iterable[Informer] = ()) -> None:
        self._informers: dict[str, Informer] = {}
        for informer in informers:
            self.add(informer)

    def add(self, informer: Informer) -> None:
        """Add an informer (names must be unique)."""
        if informer.name in self._informers:
            raise ValueError(f"informer {informer.name!r} already in the set")
        self._informers[informer.name] = informer

    def __iter__(self) -> Iterator[Informer]:
        return iter(list(self._informers.values()))

    def __len__(self) -> int:
        return len(self._informers)

    def __getitem__(self, name: str) -> Informer:
        return self._informers[name]

    def start(self) -> None:
        """Start every informer."""
        for informer in self:
            informer.start()

    @property
    def has_synced(self) -> bool:
        """True when every informer has synced."""
        return all(informer.has_synced for informer in self)

    def wait_for_sync(self, timeout: float | None = None) -> bool:
        """Block until every informer synced (True) or ``timeout`` elapsed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for informer in self:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not informer.wait_for_sync(left):
                return False
        return True

    def stop(self, timeout: float | None = None) -> bool:
        """Stop every informer and join their threads; True if all ended within ``timeout``."""
        for informer in self:
            informer.stop()
        deadline = None if timeout is None else time.monotonic() + timeout
        ok = True
        for informer in self:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ok = informer.join(left) and ok
        return ok

    def states(self) -> dict[str, ReflectorState]:
        """Every informer's reflector snapshot, by name."""
        return {informer.name: informer.state() for informer in self}
