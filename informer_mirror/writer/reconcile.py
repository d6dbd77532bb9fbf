"""Start-up reconciliation: make the backend equal to the first full list, writing only the changes.

Place in the data flow: the writer's memory of what the backend held when the daemon started.
BatchWriter threads call it under its own lock (never held across I/O): once per resource at
start-up with the backend's ``{uid: resourceVersion}`` (:meth:`Reconciler.load`), for every batch
to drop keys whose document is already current (:meth:`Reconciler.unchanged`) and to record what
was written (:meth:`Reconciler.written`), and once the resource's informer has synced, to find the
documents of objects deleted while the daemon was down (:meth:`Reconciler.stale_uids`, then
:meth:`Reconciler.swept`). Any thread reads :meth:`Reconciler.progress`.

Why the persisted set and not the informer's (informer-semantics.md pitfall 1): after a restart
the Store starts empty, so a relist cannot tell which objects vanished meanwhile; the backend can.
Deleting only after the informer has synced (a complete list) never removes a live object.

Phases per resource: ``loading`` -> ``waiting_for_sync`` (versions known; batches already skip
current documents, so a warm restart with nothing changed writes nothing) -> ``flushing`` (stale
documents deleted; ``pending`` = the keys of the first full list whose document is not current
yet) -> ``flushed`` (pending empty). From then on each stored version is consulted once more, for
the queued key of the first list that still carries it, and forgotten: memory goes back to zero,
and every later write is a real change, so a periodic resync rewrites everything (the cache ->
backend repair of pitfall 13).
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from informer_mirror.informer.stored import StoredObject
from informer_mirror.writer.metrics_hooks import ResourceProgress

logger = logging.getLogger(__name__)


class StoreReader(Protocol):
    """What the writer reads of a resource's cache: an informer ``Store``, or a read-only view
    over several (a resource watched in several namespaces, ``components.MergedStore``)."""

    def get_stored(self, key: str) -> StoredObject | None:
        """The record under ``key``, or None."""

    def list_stored(self) -> list[StoredObject]:
        """Every record."""


class Phase(enum.Enum):
    """Where one resource is in its start-up reconciliation."""

    LOADING = "loading"
    WAITING_FOR_SYNC = "waiting_for_sync"
    FLUSHING = "flushing"
    FLUSHED = "flushed"


@dataclass(slots=True)
class _Resource:
    phase: Phase = Phase.LOADING
    stored: dict[str, str] | None = None
    """uid -> resourceVersion the backend holds, as far as this process knows; None while
    loading, and once flushed and every entry consulted."""
    skip_current: bool = True
    """False when stored documents have another format: rewrite them all once."""
    pending: set[str] | None = None
    sweeping: bool = False
    stale_deleted: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class Reconciler:
    """Per-resource start-up state of the writer; thread-safe."""

    def __init__(self, names: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._resources = {name: _Resource() for name in names}

    def load(self, name: str, versions: Mapping[str, str], *, current_format: bool) -> None:
        """The backend's ``{uid: resourceVersion}`` of ``name``, read at start-up.
        ``current_format``: False if some stored document was written in another format."""
        with self._lock:
            resource = self._resources[name]
            resource.stored = dict(versions)
            resource.skip_current = current_format
            resource.phase = Phase.WAITING_FOR_SYNC
        if not current_format:
            logger.info(
                "%s: stored documents were written by another version or configuration; "
                "rewriting all %d of them",
                name,
                len(versions),
            )

    def loaded(self, name: str) -> bool:
        """True once :meth:`load` ran for ``name``."""
        with self._lock:
            return self._resources[name].phase is not Phase.LOADING

    def unchanged(
        self, name: str, records: list[StoredObject]
    ) -> tuple[list[StoredObject], list[StoredObject]]:
        """``(to_write, current)``: records whose document the backend already holds at the
        same resourceVersion (and format) need no write."""
        with self._lock:
            resource = self._resources[name]
            stored = resource.stored
            if stored is None or not resource.skip_current:
                return records, []
            consume = resource.phase is Phase.FLUSHED
            to_write: list[StoredObject] = []
            current: list[StoredObject] = []
            for record in records:
                known = stored.pop(record.uid, None) if consume else stored.get(record.uid)
                if record.resource_version and known == record.resource_version:
                    current.append(record)
                else:
                    to_write.append(record)
            if consume and not stored:
                resource.stored = None
            resource.counts["unchanged"] = resource.counts.get("unchanged", 0) + len(current)
            return to_write, current

    def written(
        self,
        name: str,
        *,
        upserted: Iterable[tuple[str, str]],
        keys: Iterable[str],
        counts: Mapping[str, int],
    ) -> bool:
        """Record a flushed group: ``upserted`` (uid, resourceVersion) pairs now stored, every
        ``key`` handled (written, deleted, current or skipped), per-operation ``counts``.
        Returns True when this finished the resource's first full sync."""
        with self._lock:
            resource = self._resources[name]
            for op, n in counts.items():
                resource.counts[op] = resource.counts.get(op, 0) + n
            if resource.stored is not None and resource.phase is not Phase.FLUSHED:
                resource.stored.update(upserted)
            if resource.pending is None:
                return False
            resource.pending.difference_update(keys)
            return self._maybe_flushed_locked(name, resource)

    def _maybe_flushed_locked(self, name: str, resource: _Resource) -> bool:
        if resource.pending or resource.phase is not Phase.FLUSHING:
            return False
        resource.phase = Phase.FLUSHED
        resource.pending = None
        logger.info("%s: first full list is in the backend", name)
        return True

    def stale_uids(self, name: str, store: StoreReader) -> list[str] | None:
        """The uids the backend holds that the (synced) Store does not: objects deleted while
        the daemon was down. None when the resource is not waiting for its sweep, or another
        thread is sweeping it; a caller that gets a list must call :meth:`swept` or
        :meth:`sweep_failed`."""
        with self._lock:
            resource = self._resources[name]
            if resource.phase is not Phase.WAITING_FOR_SYNC or resource.sweeping:
                return None
            assert resource.stored is not None
            resource.sweeping = True
            live = {record.uid for record in store.list_stored()}
            return [uid for uid in resource.stored if uid not in live]

    def sweep_failed(self, name: str) -> None:
        """The deletes of :meth:`stale_uids` did not happen; a later sweep tries again."""
        with self._lock:
            self._resources[name].sweeping = False

    def swept(
        self, name: str, deleted_uids: Iterable[str], removed: int, store: StoreReader
    ) -> bool:
        """The stale documents are gone (``removed`` of them existed). Computes the keys of the
        first full list still to write; True if there are none (the resource is flushed)."""
        with self._lock:
            resource = self._resources[name]
            stored = resource.stored
            assert stored is not None
            for uid in deleted_uids:
                stored.pop(uid, None)
            resource.sweeping = False
            resource.stale_deleted += removed
            resource.phase = Phase.FLUSHING
            # Under the lock, so no writer thread records a write between this snapshot of the
            # Store and the comparison with what is stored (that key would stay pending forever).
            resource.pending = {
                record.key
                for record in store.list_stored()
                if not (
                    resource.skip_current
                    and record.resource_version
                    and stored.get(record.uid) == record.resource_version
                )
            }
            return self._maybe_flushed_locked(name, resource)

    def phase(self, name: str) -> Phase:
        """The phase of ``name``."""
        with self._lock:
            return self._resources[name].phase

    def first_full_sync_flushed(self, synced: Mapping[str, bool]) -> bool:
        """True when every resource whose informer has synced is flushed, and one at least is.
        ``synced``: resource name -> has its informer synced."""
        with self._lock:
            flushed_any = False
            for name, resource in self._resources.items():
                if not synced.get(name, False):
                    continue
                if resource.phase is not Phase.FLUSHED:
                    return False
                flushed_any = True
            return flushed_any

    def progress(self) -> dict[str, ResourceProgress]:
        """Per-resource snapshot for the writer's status."""
        with self._lock:
            return {
                name: ResourceProgress(
                    phase=r.phase.value,
                    stale_deleted=r.stale_deleted,
                    pending=len(r.pending) if r.pending is not None else 0,
                    upserted=r.counts.get("upsert", 0),
                    deleted=r.counts.get("delete", 0),
                    unchanged=r.counts.get("unchanged", 0),
                    skipped=r.counts.get("skipped", 0),
                )
                for name, r in self._resources.items()
            }
