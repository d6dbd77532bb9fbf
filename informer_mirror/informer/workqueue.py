"""The work queue of keys between the informers and the BatchWriter (client-go ``util/workqueue``).

Place in the data flow: Reflector/Informer threads ``add`` the key of every object that changed
(``(resource, "namespace/name")`` tuples; ``add_many`` for a list page's keys); writer threads
take keys with ``get_batch``, read each key's current state from the Store, write, then call
``done`` (``done_many`` for a batch), and ``add_rate_limited`` / ``forget`` on failure / success.
Any thread may call any method.

What it owns, with client-go's contract (``queue.go`` L190-342, informer-semantics.md section 2.6):

* a FIFO of ready keys, a *dirty* set (keys waiting to be processed) and a *processing* set;
* ``add`` of a dirty key is a no-op, so a burst of changes to one object coalesces into one write;
* ``add`` of a key being processed only marks it dirty and ``done`` queues it again, so a change
  made during processing is never lost and a key is never handed to two workers at once;
* delayed re-adds (``add_after``; ``add_rate_limited`` with per-key exponential 5 ms * 2^n capped
  at 1000 s, ``default_rate_limiters.go`` L116-135). The earliest ready time of a key wins, as in
  ``delaying_queue.go`` L355-369. There is no thread per item and no heartbeat thread either: due
  keys are moved to the FIFO by whichever thread calls ``get``/``get_batch``/``len``, and a blocked
  getter sleeps only until the next key is due;
* shutdown: new adds are ignored, getters drain what is queued and then get ``None`` / ``[]``;
  pending delayed keys are dropped (the informer's resync or relist finds them again).

Time: the injected ``clock`` drives delays and metric durations; the ``timeout`` arguments bound how
long a thread really blocks and are measured with ``time.monotonic``.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Generic, Protocol, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)
Clock = Callable[[], float]


class QueueMetrics(Protocol):
    """Hooks the queue calls under its lock: they must be fast and must not block.

    Keys come and go in batches (a list page, a writer's batch), and so do the hooks: one call
    per batch, not per key. Per key, the metrics cost the queue more than its own work
    (measured: a key of a 500-key batch through ``add_many``, ``get_batch``, ``done_many`` and
    ``forget_many`` took 0.5 us with no metrics, 2.7 us with a Prometheus update per key and
    hook, 0.7 us with one per batch).
    """

    def on_add(self, count: int) -> None:
        """``count`` keys became dirty (real adds, not coalesced duplicates)."""

    def on_get(self, wait_seconds: Sequence[float]) -> None:
        """Keys were handed to a worker, each ``wait_seconds[i]`` after it was first added."""

    def on_done(self, work_seconds: Sequence[float]) -> None:
        """A worker finished keys it held for ``work_seconds[i]`` each."""

    def on_retry(self) -> None:
        """A key was re-added through the rate limiter after a failure."""

    def depth(self, depth: int) -> None:
        """The number of ready keys changed to ``depth`` (a gauge)."""


class NoQueueMetrics:
    """The default :class:`QueueMetrics`: records nothing."""

    def on_add(self, count: int) -> None:
        """Ignore."""

    def on_get(self, wait_seconds: Sequence[float]) -> None:
        """Ignore."""

    def on_done(self, work_seconds: Sequence[float]) -> None:
        """Ignore."""

    def on_retry(self) -> None:
        """Ignore."""

    def depth(self, depth: int) -> None:
        """Ignore."""


class RateLimiter(Protocol[K_contra]):
    """Decides how long a failed key waits before it is retried."""

    def when(self, key: K_contra) -> float:
        """Record one more failure of ``key`` and return its delay in seconds."""

    def forget(self, key: K_contra) -> None:
        """``key`` succeeded: forget its failures."""

    def forget_many(self, keys: Iterable[K_contra]) -> None:
        """:meth:`forget` of each of ``keys``."""

    def num_requeues(self, key: K_contra) -> int:
        """Failures recorded for ``key`` since it was last forgotten."""


class ItemExponentialRateLimiter(Generic[K]):
    """Per-key ``base_delay * 2**failures`` capped at ``max_delay`` (client-go's defaults)."""

    def __init__(self, *, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        if base_delay <= 0 or max_delay < base_delay:
            raise ValueError("rate limiter: need 0 < base_delay <= max_delay")
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._lock = threading.Lock()
        self._failures: dict[K, int] = {}

    def when(self, key: K) -> float:
        """Record one more failure of ``key`` and return its delay in seconds."""
        with self._lock:
            exponent = self._failures.get(key, 0)
            self._failures[key] = exponent + 1
        if exponent >= 64:  # 2.0**64 * any sane base is already far past the cap
            return self.max_delay
        return min(self.base_delay * 2.0**exponent, self.max_delay)

    def forget(self, key: K) -> None:
        """``key`` succeeded: forget its failures."""
        with self._lock:
            self._failures.pop(key, None)

    def forget_many(self, keys: Iterable[K]) -> None:
        """:meth:`forget` of each of ``keys`` (a writer's batch), under one lock; nothing to do
        per key while no key has failed (the usual case)."""
        with self._lock:
            failures = self._failures
            if failures:
                for key in keys:
                    failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        """Failures recorded for ``key`` since it was last forgotten."""
        with self._lock:
            return self._failures.get(key, 0)


class WorkQueue(Generic[K]):
    """A deduplicating, rate-limited FIFO of keys that never gives one key to two workers."""

    def __init__(
        self,
        *,
        name: str,
        clock: Clock = time.monotonic,
        metrics: QueueMetrics | None = None,
        rate_limiter: RateLimiter[K] | None = None,
    ) -> None:
        self.name = name
        self._clock = clock
        self._metrics: QueueMetrics = metrics or NoQueueMetrics()
        self._limiter: RateLimiter[K] = rate_limiter or ItemExponentialRateLimiter()
        lock = threading.Lock()
        self._cond = threading.Condition(lock)
        # get_batch callers holding part of a batch wait here, woken only once the queue can
        # fill it (not by every add: in a burst that is a thread switch per key)
        self._filled = threading.Condition(lock)
        self._fill_needs: list[int] = []
        self._last_add = time.monotonic()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: dict[K, float] = {}  # key -> clock time it was handed out
        self._added_at: dict[K, float] = {}
        self._waiting: dict[K, tuple[float, int]] = {}  # key -> (ready_at, heap sequence)
        self._heap: list[tuple[float, int, K]] = []
        self._sequence = 0
        self._shutting_down = False

    # ---- adding ---------------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Mark ``key`` as needing work; a no-op if it already waits or the queue is shut down."""
        with self._cond:
            self._add_all_locked((key,))

    def add_many(self, keys: Iterable[K]) -> None:
        """:meth:`add` of each of ``keys``, under one lock and with one wake-up for them all.

        An informer queues a list page's keys this way: per key, the lock, the depth gauge and
        the notify cost more than the add itself."""
        with self._cond:
            self._add_all_locked(keys)

    def _add_all_locked(self, keys: Iterable[K]) -> None:
        """Every way a key becomes ready goes through here: mark each of ``keys`` dirty, then
        report them to the metrics, update the gauge and wake getters once for them all."""
        dirty = len(self._dirty)
        queued = 0
        for key in keys:
            queued += self._add_locked(key)
        if queued:
            self._queued_locked(queued)
        # Only _take_locked removes from the dirty set, so its growth under the lock is the
        # number of real adds (a key dirtied while being processed is one, though not queued).
        added = len(self._dirty) - dirty
        if added:
            self._metrics.on_add(added)

    def _add_locked(self, key: K) -> bool:
        """Mark ``key`` dirty; True if it went into the ready queue (only for
        :meth:`_add_all_locked`)."""
        if self._shutting_down or key in self._dirty:
            return False
        self._added_at.setdefault(key, self._clock())
        self._dirty.add(key)
        if key in self._processing:
            return False  # done() queues it again
        self._queue.append(key)
        return True

    def _queued_locked(self, count: int) -> None:
        """``count`` keys were appended to the ready queue: update the gauge, wake getters."""
        self._metrics.depth(len(self._queue))
        self._last_add = time.monotonic()
        self._cond.notify(count)
        self._notify_fill_locked()

    def _notify_fill_locked(self) -> None:
        if self._fill_needs and len(self._queue) >= min(self._fill_needs):
            self._filled.notify_all()

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds of the injected clock have passed.

        If ``key`` is already waiting, the earlier of the two ready times is kept.
        """
        with self._cond:
            self._add_after_locked(key, delay)

    def _add_after_locked(self, key: K, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self._add_all_locked((key,))
            return
        ready_at = self._clock() + delay
        current = self._waiting.get(key)
        if current is not None and current[0] <= ready_at:
            return
        self._sequence += 1
        self._waiting[key] = (ready_at, self._sequence)
        heapq.heappush(self._heap, (ready_at, self._sequence, key))
        # A getter sleeping until a later key is due must recompute its wait.
        self._cond.notify_all()
        self._filled.notify_all()

    def add_rate_limited(self, key: K) -> None:
        """Re-add a key that failed, after its per-key exponential delay."""
        with self._cond:
            if self._shutting_down:
                return
            self._metrics.on_retry()
            self._add_after_locked(key, self._limiter.when(key))

    def forget(self, key: K) -> None:
        """``key`` was processed successfully: reset its rate-limit history."""
        self._limiter.forget(key)

    def forget_many(self, keys: Iterable[K]) -> None:
        """:meth:`forget` of each of ``keys``."""
        self._limiter.forget_many(keys)

    def num_requeues(self, key: K) -> int:
        """How many rate-limited re-adds ``key`` had since it was last forgotten."""
        return self._limiter.num_requeues(key)

    def _promote_due_locked(self) -> None:
        if not self._heap:
            return
        now = self._clock()
        due: list[K] = []
        while self._heap and self._heap[0][0] <= now:
            _, sequence, key = heapq.heappop(self._heap)
            current = self._waiting.get(key)
            if current is None or current[1] != sequence:
                continue  # superseded by an earlier add_after of the same key
            del self._waiting[key]
            due.append(key)
        if due:
            self._add_all_locked(due)

    def _seconds_until_due_locked(self) -> float | None:
        while self._heap:
            ready_at, sequence, key = self._heap[0]
            current = self._waiting.get(key)
            if current is not None and current[1] == sequence:
                return max(0.0, ready_at - self._clock())
            heapq.heappop(self._heap)
        return None

    # ---- taking ---------------------------------------------------------------------------

    def _take_locked(self, count: int = 1) -> list[K]:
        """Hand out the first ``count`` ready keys (at most as many as are ready)."""
        queue, added_at = self._queue, self._added_at
        now = self._clock()
        keys = [queue.popleft() for _ in range(min(count, len(queue)))]
        for key in keys:
            self._dirty.discard(key)
            self._processing[key] = now
        if keys:
            self._metrics.on_get([now - added_at.pop(key, now) for key in keys])
        self._metrics.depth(len(queue))  # once per batch: a gauge needs only the last value
        return keys

    def _wait_locked(self, deadline: float | None) -> bool:
        """Block until notified, the next delayed key is due, or ``deadline``; False at deadline."""
        timeout = self._seconds_until_due_locked()
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            timeout = remaining if timeout is None else min(timeout, remaining)
        self._cond.wait(timeout)
        return True

    def get(self, timeout: float | None = None) -> K | None:
        """The next key to process, or ``None`` after ``timeout`` or once shut down and drained.

        The caller owns the key until it calls :meth:`done` with it.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                self._promote_due_locked()
                if self._queue:
                    return self._take_locked()[0]
                if self._shutting_down or not self._wait_locked(deadline):
                    return None

    def get_batch(
        self,
        max_items: int,
        timeout: float,
        *,
        idle: float | None = None,
        fill: int | None = None,
    ) -> list[K]:
        """Up to ``max_items`` distinct keys, waiting at most ``timeout`` seconds in all.

        Returns as soon as ``fill`` keys are held (default ``max_items``), with up to
        ``max_items`` of those queued by then; otherwise whatever arrived by the deadline
        (possibly nothing). A writer asks for "up to 5,000 keys, at least 2,000 or 0.25 s":
        a writer that fell behind takes all that waits in one batch, one that keeps up starts
        on 2,000. With ``idle``, a batch that holds keys is also returned once no key has been
        added for ``idle`` seconds: a burst is handed over as soon as it ends, not at the
        deadline. Once shut down it returns what is still queued without waiting, then ``[]``.
        While it holds part of a batch it is woken only when the queue can fill it, not by
        every add.
        """
        if max_items < 1 or (fill is not None and fill < 1):
            raise ValueError("get_batch: max_items and fill must be >= 1")
        enough = max_items if fill is None else min(fill, max_items)
        deadline = time.monotonic() + timeout
        batch: list[K] = []
        with self._cond:
            while True:
                self._promote_due_locked()
                if self._queue and len(batch) < max_items:
                    batch += self._take_locked(max_items - len(batch))
                if len(batch) >= enough or self._shutting_down:
                    return batch
                if not batch:
                    if not self._wait_locked(deadline):
                        return batch
                    continue
                wake = self._batch_wake_locked(deadline, idle)
                if wake is None:
                    return batch
                need = enough - len(batch)
                self._fill_needs.append(need)
                try:
                    self._filled.wait(wake)
                finally:
                    self._fill_needs.remove(need)

    def _batch_wake_locked(self, deadline: float, idle: float | None) -> float | None:
        """Seconds a part-filled batch may sleep (until the deadline, the queue going quiet for
        ``idle`` or the next delayed key); None: return it now."""
        now = time.monotonic()
        wake = deadline
        if idle is not None:
            wake = min(wake, self._last_add + idle)
        if wake <= now:
            return None
        due = self._seconds_until_due_locked()
        return wake - now if due is None else min(wake - now, due)

    def done(self, key: K) -> None:
        """The worker finished ``key``; if it was re-added meanwhile it is queued again."""
        self.done_many((key,))

    def done_many(self, keys: Iterable[K]) -> None:
        """:meth:`done` of each of ``keys`` (a writer's batch) under one lock, with one wake-up."""
        with self._cond:
            now = self._clock()
            requeued = 0
            held: list[float] = []
            for key in keys:
                started = self._processing.pop(key, None)
                if started is None:
                    logger.debug("%s: done() for a key that is not being processed", self.name)
                    continue
                held.append(now - started)
                if key in self._dirty:
                    self._queue.append(key)
                    requeued += 1
            if held:
                self._metrics.on_done(held)
            if requeued:
                self._queued_locked(requeued)
            # notify_all: a plain notify() could wake a shut_down_with_drain() waiter in place of
            # the getter that must take the re-queued key.
            self._cond.notify_all()

    # ---- shutting down --------------------------------------------------------------------

    def shut_down(self) -> None:
        """Ignore new adds, drop delayed keys, and let getters drain what is queued."""
        with self._cond:
            self._shutting_down = True
            self._heap.clear()
            self._waiting.clear()
            self._cond.notify_all()
            self._filled.notify_all()

    def shut_down_with_drain(self, timeout: float | None = None) -> bool:
        """Shut down, then wait until every queued and in-flight key is done.

        client-go waits only for the in-flight keys; waiting for the queued ones too lets the
        daemon flush the mirror before exiting. Returns False if ``timeout`` ran out first.
        """
        self.shut_down()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._processing:
                if deadline is None:
                    self._cond.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    @property
    def shutting_down(self) -> bool:
        """True once :meth:`shut_down` was called."""
        with self._cond:
            return self._shutting_down

    # ---- inspection -----------------------------------------------------------------------

    def __len__(self) -> int:
        """Keys ready to be handed out (client-go's ``Len``); not in-flight nor delayed ones."""
        with self._cond:
            self._promote_due_locked()
            return len(self._queue)

    @property
    def processing_count(self) -> int:
        """Keys currently held by workers."""
        with self._cond:
            return len(self._processing)

    @property
    def waiting_count(self) -> int:
        """Keys waiting for their delay to pass."""
        with self._cond:
            return len(self._waiting)
