"""What the BatchWriter reports as it works: the metrics hooks Protocol and the status snapshot.

Place in the data flow: beside the writer. Writer threads call a :class:`WriterMetrics` after
each flush and failure (``metrics.py`` implements it over prometheus_client; the default records
nothing); any thread (``/api/v1/status``, ``/readyz``, the metrics collector at scrape time) reads
a :class:`WriterStatus`, an immutable snapshot the writer builds on request.

Counters are bounded by design: resource names, operations (``upsert``, ``delete``) and reasons
(:data:`ERROR_REASONS`), never a namespace, name or uid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from informer_mirror.retry import CircuitSnapshot

ERROR_REASONS = (
    "transient",
    "permanent",
    "too_large",
    "unencodable",
    "rejected",
    "no_uid",
    "unknown_resource",
    "internal",
)
"""Why a write failed. ``transient``: a failed attempt, retried with backoff (nothing lost);
``permanent``: a whole apply refused, then retried document by document; ``too_large``,
``unencodable``, ``rejected``, ``no_uid``: one document skipped (counted, logged, not stored);
``unknown_resource``: a key of a resource the writer was not given; ``internal``: a bug, logged
with its traceback."""


class WriterMetrics(Protocol):
    """Hooks the writer calls on its own threads, outside its locks; each must be quick."""

    def on_flush(self, *, keys: int, seconds: float) -> None:
        """One batch of ``keys`` keys was flushed (all of it written or skipped) in ``seconds``."""

    def on_written(self, *, resource: str, operation: str, count: int) -> None:
        """``count`` documents of ``resource`` were written by ``operation`` (upsert, delete)."""

    def on_error(self, *, reason: str) -> None:
        """A write failed for ``reason`` (one of :data:`ERROR_REASONS`)."""


class NoWriterMetrics:
    """The default :class:`WriterMetrics`: records nothing."""

    def on_flush(self, *, keys: int, seconds: float) -> None:
        """Ignore."""

    def on_written(self, *, resource: str, operation: str, count: int) -> None:
        """Ignore."""

    def on_error(self, *, reason: str) -> None:
        """Ignore."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceProgress:
    """Where one resource stands in the writer's start-up reconciliation, and its counts."""

    phase: str
    """``loading`` (reading the backend's versions), ``waiting_for_sync`` (the informer has not
    listed yet), ``flushing`` (stale documents removed; the first full list is being written) or
    ``flushed``."""
    stale_deleted: int = 0
    """Documents removed at start-up because their object no longer exists."""
    pending: int = 0
    """Keys of the first full list not written yet (while ``flushing``)."""
    upserted: int = 0
    deleted: int = 0
    unchanged: int = 0
    """Keys skipped at start-up because the backend already held that resourceVersion."""
    skipped: int = 0
    """Documents skipped as unstorable (too large, unencodable, rejected, no uid)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WriterStatus:
    """A consistent copy of the writer's state, safe to hand to any thread."""

    running: bool
    """True while writer threads run."""
    workers: int
    """Writer threads configured."""
    queue_depth: int
    """Keys waiting in the WorkQueue (ready to be taken)."""
    in_flight: int
    """Keys held by writer threads right now (a batch being written or retried)."""
    last_flush_at: float | None
    """Monotonic clock time of the latest successful flush; None before the first."""
    last_flush_age: float | None
    """Seconds since then, when the snapshot was taken."""
    batches: int
    """Batches flushed since start."""
    circuit: str
    """The backend circuit breaker: ``closed``, ``open`` or ``half_open``."""
    circuit_detail: CircuitSnapshot
    """Failures, openings, last error and next trial time of that breaker."""
    first_full_sync_flushed: bool
    """True once every resource whose informer has synced has its whole first list in the
    backend (stale documents removed, every object written or already current), and at least one
    has. A resource that never syncs (not served, forbidden) does not hold it back: readiness
    checks informer sync separately."""
    errors: Mapping[str, int] = field(default_factory=dict)
    """Failures by reason (see :data:`ERROR_REASONS`)."""
    resources: Mapping[str, ResourceProgress] = field(default_factory=dict)
    """Per resource: reconciliation phase and counts."""
    last_error: str | None = None
    """The latest failure, ``Type: message``; None when none happened yet."""
