"""The informers of the daemon, one :class:`ResourceInformers` per mirrored resource.

Place in the data flow: between the registry and the writer. The composition root
(``daemon.py``, main thread) builds one :class:`ResourceInformers` per ``ResourceSpec``; the
BatchWriter reads it as the resource's ``ResourceSource`` (``store``, ``has_synced``), the status
provider and the metrics collector read :meth:`ResourceInformers.state` and
:meth:`ResourceInformers.degraded_reason` (API worker threads), and the health monitor (thread
``health``) inspects and repairs its :class:`InformerSlot` s.

Why slots. A resource watched in several namespaces (``resources.namespaces: [a, b]``, see
``registry.selection``) needs one list+watch per namespace, each with its own resourceVersion:
RVs of different watches cannot be merged into one resume point, and a relist of one namespace
must not delete the other's objects. The Informer takes one ListerWatcher and its Store's
``replace`` swaps the whole content, so instead of teaching both about namespaces, each namespace
gets its own Informer and Store (an :class:`InformerSlot`), all enqueuing ``(resource, key)`` into
the one WorkQueue, and :class:`MergedStore` shows the writer their union (keys are
``namespace/name``, so every key belongs to exactly one of them). A resource watched cluster-wide
has one slot and no merged view.

A slot is also the unit the health monitor restarts: :meth:`InformerSlot.restart` replaces a dead
or stuck Informer by a new one over the *same* Store, resuming from the last resourceVersion, so
the relist that follows only enqueues what changed. :class:`ObservedListerWatcher` wraps each
ListerWatcher to remember a 403 or 404 (the resource is then *degraded*: reported with the
server's and our RBAC hint, and left out of readiness) and to cut a stalled watch (``access.py``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

from informer_mirror.access import ObservedListerWatcher
from informer_mirror.informer.informer import Informer
from informer_mirror.informer.reflector_types import Phase, ReflectorState
from informer_mirror.informer.store import Store
from informer_mirror.informer.stored import StoredObject

log = logging.getLogger(__name__)

RESTART_JOIN_TIMEOUT = 5.0
"""Seconds a restart waits for the old reflector thread before starting the new one."""

# The phase a merged state shows: the least advanced one among the namespaces.
_PHASE_ORDER = (
    Phase.CIRCUIT_OPEN,
    Phase.BACKING_OFF,
    Phase.STARTING,
    Phase.LISTING,
    Phase.WATCHING,
    Phase.STOPPED,
)
_CIRCUIT_ORDER = ("open", "half_open", "closed")


Build = Callable[[Store | None, str | None], tuple[Informer, ObservedListerWatcher]]
"""``build(store, resource_version)``: a new, unstarted Informer (over ``store`` if given,
starting from ``resource_version``) and the ListerWatcher it uses."""


class InformerSlot:
    """One reflector of a resource (cluster-wide, or one namespace of it), restartable.

    ``name`` is the Informer's: ``pods``, or ``pods/team-a`` for a namespace (its threads are
    ``reflector/<name>`` and ``resync/<name>``). The Store outlives restarts. ``has_synced`` is
    sticky, as client-go's: once the Store held a complete list it stays usable while a restarted
    reflector relists.
    """

    def __init__(
        self,
        *,
        name: str,
        build: Build,
        namespace: str | None = None,
        resource_version: str | None = None,
    ) -> None:
        """``resource_version`` of the first list: None when the backend holds nothing yet (a
        fresh start, list at "0"), "" when it holds state (a consistent list, pitfall 3)."""
        self.name = name
        self.namespace = namespace
        self._build = build
        self._lock = threading.Lock()
        self._first_resource_version = resource_version
        informer, observed = build(None, resource_version)
        self.store: Store = informer.store
        self._informer = informer
        self._observed = observed
        self._synced_before = False
        self._started = False
        self._stopping = False
        self._restarts = 0

    @property
    def informer(self) -> Informer:
        """The current Informer (replaced by :meth:`restart`)."""
        with self._lock:
            return self._informer

    @property
    def has_synced(self) -> bool:
        """True once some Informer of this slot has listed completely."""
        with self._lock:
            informer, before = self._informer, self._synced_before
        return before or informer.has_synced

    @property
    def restarts(self) -> int:
        """How many times :meth:`restart` replaced the Informer."""
        with self._lock:
            return self._restarts

    def state(self) -> ReflectorState:
        """The current reflector's snapshot (``synced`` sticky across restarts)."""
        with self._lock:
            informer, before = self._informer, self._synced_before
        state = informer.state()
        if before and not state.synced:
            state = dataclasses.replace(state, synced=True)
        return state

    def alive(self) -> bool:
        """True while the reflector thread runs (False before start and after it ended)."""
        with self._lock:
            informer, started = self._informer, self._started
        # join(0) is True when the thread ended or never started: it only looks.
        return started and not informer.reflector.join(0)

    def access_problem(self) -> str | None:
        """A 403/404 from the API for this collection, or None."""
        with self._lock:
            observed = self._observed
        return observed.access_problem()

    def reconnect(self) -> bool:
        """Cut the open watch so the reflector re-watches from its last RV; True if one was
        open."""
        with self._lock:
            observed = self._observed
        return observed.interrupt_watch()

    def start(self) -> None:
        """Start the Informer's threads."""
        with self._lock:
            self._started = True
            informer = self._informer
        informer.start()

    def restart(self) -> bool:
        """Replace the Informer by a new one over the same Store, resuming from the last
        resourceVersion (not relisting from scratch). False when stopping or not started."""
        with self._lock:
            if not self._restartable_locked():
                return False
            old = self._informer
        old.stop()
        if not old.join(RESTART_JOIN_TIMEOUT):
            log.warning(
                "%s: the old reflector did not stop within %.0f s", self.name, RESTART_JOIN_TIMEOUT
            )
        # Before a first list there is no RV to resume from: list as the first one would have.
        resume = old.reflector.last_sync_resource_version or self._first_resource_version
        new, observed = self._build(self.store, resume)
        with self._lock:
            if not self._restartable_locked():
                return False
            self._synced_before = self._synced_before or old.has_synced
            self._informer, self._observed = new, observed
            self._restarts += 1
            # Started under the lock so a concurrent stop() cannot miss the new Informer.
            new.start()
        log.info("%s: informer restarted from resourceVersion %r", self.name, resume)
        return True

    def _restartable_locked(self) -> bool:
        # A method, not an inline test: stop() may flip the flag between two lock sections.
        return self._started and not self._stopping

    def stop(self) -> None:
        """Ask the threads to end (wakes a blocked read); no restart happens after this."""
        with self._lock:
            self._stopping = True
            informer = self._informer
        informer.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the threads; True if they ended."""
        return self.informer.join(timeout)


class MergedStore:
    """The union of per-namespace Stores, read-only: what the writer reads for a resource
    watched in several namespaces. Keys are ``namespace/name``, so each lives in one Store."""

    def __init__(self, stores: dict[str, Store]) -> None:
        self._stores = dict(stores)

    def get_stored(self, key: str) -> StoredObject | None:
        """The record under ``key`` in its namespace's Store."""
        namespace, sep, _ = key.partition("/")
        store = self._stores.get(namespace) if sep else None
        return None if store is None else store.get_stored(key)

    def list_stored(self) -> list[StoredObject]:
        """Every record of every namespace."""
        return [record for store in self._stores.values() for record in store.list_stored()]

    def __len__(self) -> int:
        return sum(len(store) for store in self._stores.values())


class ResourceInformers:
    """Every reflector of one resource, seen by the writer and the status as one source."""

    def __init__(self, name: str, slots: Sequence[InformerSlot]) -> None:
        if not slots:
            raise ValueError(f"{name}: a resource needs at least one informer")
        self.name = name
        self.slots = tuple(slots)
        self._store: Store | MergedStore = (
            slots[0].store
            if len(slots) == 1
            else MergedStore({slot.namespace or "": slot.store for slot in slots})
        )

    @property
    def store(self) -> Store | MergedStore:
        """The resource's cache (the union of the namespaces' Stores)."""
        return self._store

    @property
    def has_synced(self) -> bool:
        """True once every namespace has been listed completely."""
        return all(slot.has_synced for slot in self.slots)

    def state(self) -> ReflectorState:
        """One snapshot for the resource (merged over its namespaces)."""
        if len(self.slots) == 1:
            return self.slots[0].state()
        return merge_states(
            self.name, [(slot.namespace or "", slot.state()) for slot in self.slots]
        )

    def degraded_reason(self) -> str | None:
        """Why the API refuses (part of) this resource, or None."""
        problems = [p for slot in self.slots if (p := slot.access_problem()) is not None]
        return "; ".join(problems) if problems else None

    def start(self) -> None:
        """Start every reflector."""
        for slot in self.slots:
            slot.start()

    def stop(self) -> None:
        """Ask every reflector to end."""
        for slot in self.slots:
            slot.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for every reflector; True if all ended within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ended = True
        for slot in self.slots:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ended = slot.join(left) and ended
        return ended


def merge_states(name: str, states: Sequence[tuple[str, ReflectorState]]) -> ReflectorState:
    """One ReflectorState for a resource from its namespaces' ``(namespace, state)``: the least
    advanced phase, synced when all are, the worst circuit, the latest event, summed counters;
    the RV and the error name their namespace."""
    only = [state for _, state in states]
    errors = [f"{ns}: {s.last_error}" for ns, s in states if s.last_error is not None]
    restarts: Counter[str] = Counter()
    for state in only:
        restarts.update(state.watch_restarts)
    events = [s.last_event_at for s in only if s.last_event_at is not None]
    return ReflectorState(
        name=name,
        phase=min((s.phase for s in only), key=_PHASE_ORDER.index),
        resource_version=" ".join(f"{ns}={s.resource_version}" for ns, s in states),
        synced=all(s.synced for s in only),
        last_error="; ".join(errors) if errors else None,
        failures=max(s.failures for s in only),
        circuit=min((s.circuit for s in only), key=_circuit_rank),
        last_event_at=max(events) if events else None,
        lists=sum(s.lists for s in only),
        relists=sum(s.relists for s in only),
        list_requests=sum(s.list_requests for s in only),
        watch_requests=sum(s.watch_requests for s in only),
        events=sum(s.events for s in only),
        malformed_events=sum(s.malformed_events for s in only),
        dropped_events=sum(s.dropped_events for s in only),
        watch_restarts=dict(restarts),
    )


def _circuit_rank(circuit: str) -> int:
    # An unknown state ranks as open, as the metrics read it.
    return _CIRCUIT_ORDER.index(circuit) if circuit in _CIRCUIT_ORDER else 0
