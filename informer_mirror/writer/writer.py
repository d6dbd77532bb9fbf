"""BatchWriter: drains the WorkQueue of keys into the backend, in batches, until told to stop.

Place in the data flow: ``WorkQueue`` (keys ``(resource, "namespace/name")`` from every informer)
-> **BatchWriter** -> ``Backend``. Runs on threads named ``writer-0`` .. ``writer-N``; ``writer-0``
first prepares the backend (schema, and the versions start-up reconciliation needs), then starts
the others. :meth:`BatchWriter.status` and :attr:`BatchWriter.first_full_sync_flushed` may be read
from any thread; :meth:`BatchWriter.stop` is called by the daemon's shutdown sequence.

A cycle: take up to ``writer.batch_size`` keys once :data:`BATCH_FILL` of them are queued, or
whatever is queued after at most ``writer.flush_interval`` (or :data:`IDLE_FLUSH` of quiet); read
each key's CURRENT record from its resource's Store (absent = delete: level-triggered, as the
client-go controller pattern prescribes, so a burst of changes to one object is one write of its
latest state); group by resource; one ``Backend.apply`` per resource; then ``done`` every key.
The WorkQueue never hands one key to two threads, so writes of one object never race.

Backend outage (pitfall 13): the batch is retried in place with client-go's jittered exponential
backoff (``retry.call_with_retry``, interruptible by stop) behind a circuit breaker, re-reading
the Store at every attempt. Meanwhile the informers keep running and new changes only mark keys
dirty in the queue, so memory stays bounded by the number of objects and, when the backend
returns, the mirror converges: nothing lost, nothing written twice out of order. A document the
backend can never store (too large, unencodable, rejected) is skipped, logged and counted; the
rest of its batch lands. Start-up reconciliation is in ``reconcile.py``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from informer_mirror.backends import Backend, Delete
from informer_mirror.errors import BackendError, PermanentBackendError
from informer_mirror.informer.workqueue import WorkQueue
from informer_mirror.registry import ResourceSpec
from informer_mirror.retry import (
    BackoffPolicy,
    BreakerPolicy,
    CircuitBreaker,
    ClientGoBackoff,
    call_with_retry,
    wait_interruptibly,
)
from informer_mirror.settings import HealthSettings, WriterSettings
from informer_mirror.writer.batch import GroupWriter
from informer_mirror.writer.documents import document_format
from informer_mirror.writer.metrics_hooks import NoWriterMetrics, WriterMetrics, WriterStatus
from informer_mirror.writer.reconcile import Phase, Reconciler, StoreReader

logger = logging.getLogger(__name__)

T = TypeVar("T")

IDLE_FLUSH = 0.02
"""Seconds without a new key after which a part-filled batch is written before
``writer.flush_interval`` runs out: a burst of changes lands 20 ms after it ends, not up to
0.25 s later (the interval still bounds how long a change waits in a steady trickle)."""
BATCH_FILL = 2000
"""Keys that make a batch worth writing before ``writer.flush_interval`` runs out: a writer that
keeps up starts on 2,000 keys, one that fell behind takes up to ``writer.batch_size`` of what
waits (``WorkQueue.get_batch``). Waiting for the full 5,000 left the writer idle at the start of
a list, so it overlapped less of it. Measured on 2 cores (``bench/pipeline.py``'s mirror, fresh
processes alternating, medians), initial sync of 10k Pods: batches of 2,000 26.4k objects/s,
5,000 waiting for all 5,000 24.5k (8 each); 2,000 27.5k, 5,000 from 2,000 on 27.1k (14 each).
100k Pods: 2,000 24.4k, 5,000 from 2,000 on 26.6k (8 each)."""
FORMAT_FIELD = "_mirror.format"


class ResourceSource(Protocol):
    """Where the writer reads a resource's current state: an ``Informer`` is one."""

    @property
    def store(self) -> StoreReader:
        """The resource's cache."""

    @property
    def has_synced(self) -> bool:
        """True once the Store holds a complete list."""


def breaker_policy(health: HealthSettings) -> BreakerPolicy:
    """The writer's circuit breaker from the ``health:`` section."""
    return BreakerPolicy(
        max_failures=health.max_retries,
        base_delay=health.retry_delay,
        max_delay=max(health.max_retry_delay, health.retry_delay),
    )


class _Stopped(Exception):
    """Stop was requested while waiting for the circuit to allow an attempt."""


class BatchWriter:
    """Mirror the Stores into the backend (see the module docstring)."""

    def __init__(
        self,
        *,
        backend: Backend,
        queue: WorkQueue[Any],
        specs: Iterable[ResourceSpec],
        sources: Mapping[str, ResourceSource],
        cluster: str,
        settings: WriterSettings | None = None,
        workers: int = 1,
        backoff: BackoffPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        metrics: WriterMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        """``specs``: the Registry; ``sources``: resource name -> its Informer; ``cluster``:
        stored in every document's ``_mirror``. ``backoff``/``breaker`` default to client-go's
        numbers and the ``health:`` defaults (see :func:`breaker_policy`)."""
        if workers < 1:
            raise ValueError("writer: workers must be >= 1")
        self._backend = backend
        self._queue = queue
        self._specs = {spec.name: spec for spec in specs}
        self._sources = dict(sources)
        self._cluster = cluster
        self._settings = settings or WriterSettings()
        self._workers = workers
        self._metrics: WriterMetrics = metrics or NoWriterMetrics()
        self._clock = clock
        self._wall_clock = wall_clock
        self._backoff = ClientGoBackoff(backoff, clock=clock, rng=rng)
        self._breaker = CircuitBreaker(breaker, name="writer", clock=clock)
        self._formats = {name: document_format(spec) for name, spec in self._specs.items()}
        self._reconciler = Reconciler(self._specs)
        self._stop = threading.Event()
        self._lock = threading.Lock()  # counters and the thread list; never held across I/O
        self._threads: list[threading.Thread] = []
        self._started = False
        self._batches = 0
        self._last_flush_at: float | None = None
        self._last_error: str | None = None
        self._errors: dict[str, int] = {}
        self._schema_ready: set[str] = set()
        self._group_writer = GroupWriter(
            backend=backend,
            reconciler=self._reconciler,
            cluster=cluster,
            formats=self._formats,
            metrics=self._metrics,
            count_error=self._count_error,
            wall_clock=wall_clock,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start ``writer-0`` (which prepares the backend, then starts the other workers)."""
        with self._lock:
            if self._started:
                raise RuntimeError("writer: already started")
            self._started = True
        self._spawn(0)

    def _spawn(self, index: int) -> None:
        # daemon, like the reflectors: stop() joins it; this only keeps a forgotten writer from
        # holding the interpreter open at exit
        thread = threading.Thread(
            target=self._run, args=(index,), name=f"writer-{index}", daemon=True
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def stop(self, *, drain_timeout: float | None = None, close_backend: bool = True) -> bool:
        """Stop taking new keys, write what is queued for at most ``drain_timeout`` seconds
        (default ``writer.drain_timeout``; 0: do not wait), stop the threads, close the backend.

        Call after the informers are stopped. Returns True if every queued key was written and
        every thread ended. Keys left unwritten are not lost for good: the next start's
        reconciliation compares the cluster with the backend again.
        """
        timeout = self._settings.drain_timeout if drain_timeout is None else drain_timeout
        with self._lock:
            running = any(t.is_alive() for t in self._threads)
        if running and timeout > 0:
            drained = self._queue.shut_down_with_drain(timeout)
        else:
            self._queue.shut_down()
            drained = len(self._queue) == 0 and self._queue.processing_count == 0
        if not drained:
            logger.warning("writer: drain did not finish within %.1f s; stopping anyway", timeout)
        self._stop.set()
        joined = self.join(timeout=max(timeout, 10.0))
        if not joined:
            logger.error("writer: threads still running after stop; closing the backend anyway")
        if close_backend:
            self._backend.close()
        return drained and joined

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the writer threads; True if all ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                alive = [t for t in self._threads if t.is_alive()]
            if not alive:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            alive[0].join(left)

    # -- state ---------------------------------------------------------------------------------

    @property
    def first_full_sync_flushed(self) -> bool:
        """True once every synced resource's first full list is in the backend (see
        :class:`WriterStatus`)."""
        synced = {name: source.has_synced for name, source in self._sources.items()}
        return self._reconciler.first_full_sync_flushed(synced)

    def status(self) -> WriterStatus:
        """A snapshot for /status, /readyz and the metrics collector."""
        circuit = self._breaker.snapshot()
        flushed = self.first_full_sync_flushed
        now = self._clock()
        with self._lock:
            running = any(t.is_alive() for t in self._threads)
            last = self._last_flush_at
            batches, errors, last_error = self._batches, dict(self._errors), self._last_error
        return WriterStatus(
            running=running,
            workers=self._workers,
            queue_depth=len(self._queue),
            in_flight=self._queue.processing_count,
            last_flush_at=last,
            last_flush_age=None if last is None else max(0.0, now - last),
            batches=batches,
            circuit=circuit.state.value,
            circuit_detail=circuit,
            first_full_sync_flushed=flushed,
            errors=errors,
            resources=self._reconciler.progress(),
            last_error=last_error,
        )

    def _count_error(self, reason: str, error: BaseException | str | None = None) -> None:
        with self._lock:
            self._errors[reason] = self._errors.get(reason, 0) + 1
            if error is not None:
                text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
                self._last_error = text
        self._metrics.on_error(reason=reason)

    # -- the loop ------------------------------------------------------------------------------

    def _run(self, index: int) -> None:
        if index == 0:
            while True:
                try:
                    if not self._prepare():
                        return  # stopped before the backend was ready
                    break
                except Exception as e:  # the thread's top level: log, count, back off, go on
                    logger.exception("writer-0: unexpected error preparing the backend")
                    self._count_error("internal", e)
                    if wait_interruptibly(self._stop, self._backoff.next_delay()):
                        return
            for other in range(1, self._workers):
                self._spawn(other)
        while not self._stop.is_set():
            try:
                self._sweep_synced()
                keys = self._queue.get_batch(
                    self._settings.batch_size,
                    self._settings.flush_interval,
                    idle=min(IDLE_FLUSH, self._settings.flush_interval),
                    fill=BATCH_FILL,
                )
                if keys:
                    self._process(keys)
                elif self._queue.shutting_down:
                    return  # shut down and drained
            except Exception as e:  # the thread's top level: log, count, back off, go on
                logger.exception("writer-%d: unexpected error", index)
                self._count_error("internal", e)
                if wait_interruptibly(self._stop, self._backoff.next_delay()):
                    return

    def _with_backend(self, what: str, fn: Callable[[], T]) -> T | None:
        """``fn()`` (backend calls) retried with backoff behind the circuit breaker until it
        succeeds; None if stop was requested first."""

        def attempt() -> T:
            while not self._breaker.allow():
                pause = max(self._breaker.seconds_until_attempt(), 0.005)
                if wait_interruptibly(self._stop, pause):
                    raise _Stopped
            try:
                result = fn()
            except BackendError as e:
                self._breaker.record_failure(e)
                reason = "permanent" if isinstance(e, PermanentBackendError) else "transient"
                self._count_error(reason, e)
                raise
            self._breaker.record_success()
            return result

        result = call_with_retry(
            attempt,
            self._stop,
            name=f"writer ({what})",
            wait=self._backoff,
            retry_on=(BackendError, _Stopped),
        )
        if result is not None and self._backoff.calls:
            self._backoff.reset()
        return result

    def _prepare(self) -> bool:
        def prepare() -> bool:
            for name, spec in self._specs.items():
                if name not in self._schema_ready:
                    self._backend.ensure_schema(spec)
                    self._schema_ready.add(name)
            for name, spec in self._specs.items():
                if self._reconciler.loaded(name):
                    continue
                versions = self._backend.versions(spec)
                formats: set[Any] = set()
                if versions:
                    formats = {g.value for g in self._backend.group_counts(spec, FORMAT_FIELD)}
                current = formats <= {self._formats[name]}
                self._reconciler.load(name, versions, current_format=current)
            return True

        ready = self._with_backend("preparing the backend", prepare) is not None
        if ready:
            logger.info("writer: backend %s ready", self._backend.describe())
        return ready

    def _sweep_synced(self) -> None:
        for name, source in self._sources.items():
            if name not in self._specs or not source.has_synced:
                continue
            if self._reconciler.phase(name) is not Phase.WAITING_FOR_SYNC:
                continue
            stale = self._reconciler.stale_uids(name, source.store)
            if stale is None:
                continue
            try:
                removed = self._delete_stale(self._specs[name], stale)
            except BaseException:
                self._reconciler.sweep_failed(name)
                raise
            if removed is None:  # stopping
                self._reconciler.sweep_failed(name)
                return
            if stale:
                logger.info("%s: removed %d documents of deleted objects", name, removed)
                self._metrics.on_written(resource=name, operation="delete", count=removed)
            self._reconciler.swept(name, stale, removed, source.store)

    def _delete_stale(self, spec: ResourceSpec, uids: Sequence[str]) -> int | None:
        """Delete ``uids`` in batch-sized applies, resuming after a failed chunk; the number
        of documents removed, or None if stopped first."""
        size = self._settings.batch_size
        chunks = [uids[i : i + size] for i in range(0, len(uids), size)]
        removed = 0

        def delete_rest() -> int:
            nonlocal removed
            while chunks:
                removed += self._backend.apply(
                    spec, [], [Delete.by_uid(u) for u in chunks[0]]
                ).deleted
                chunks.pop(0)
            return removed

        return self._with_backend(f"{spec.name}: removing stale documents", delete_rest)

    def _process(self, keys: list[Hashable]) -> None:
        try:
            flushed = self._flush(keys)
        except Exception as e:  # a bug: keep the keys (retried after a per-key delay)
            logger.exception("writer: batch of %d keys failed unexpectedly", len(keys))
            self._count_error("internal", e)
            self._queue.done_many(keys)
            for key in keys:
                self._queue.add_rate_limited(key)
            return
        self._queue.done_many(keys)
        self._queue.forget_many(keys)
        if not flushed:
            logger.warning(
                "writer: stopped with %d keys unwritten; the next start reconciles them",
                len(keys),
            )

    def _flush(self, keys: list[Hashable]) -> bool:
        """Write one batch; False if stop was requested before it could be written."""
        started = self._clock()
        groups: dict[str, list[str]] = {}
        for key in keys:
            if not (isinstance(key, tuple) and len(key) == 2 and key[0] in self._sources):
                logger.error("writer: key %r is not (resource, key) of a known resource", key)
                self._count_error("unknown_resource", f"unknown key {key!r}")
                continue
            groups.setdefault(key[0], []).append(key[1])
        remaining = dict(groups)

        def write_all() -> bool:
            for name in list(remaining):
                store = self._sources[name].store
                self._group_writer.write(self._specs[name], store.get_stored, remaining[name])
                del remaining[name]
            return True

        if self._with_backend(f"batch of {len(keys)} keys", write_all) is None:
            return False
        now = self._clock()
        with self._lock:
            self._batches += 1
            self._last_flush_at = now
        self._metrics.on_flush(keys=len(keys), seconds=max(0.0, now - started))
        return True
