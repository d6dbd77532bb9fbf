"""Reflector: keeps a store in step with one resource type by list + watch, as client-go does.

Place in the data flow: ``ListerWatcher`` (kube/) -> **Reflector** -> ``ReflectorStore`` (the
Informer, which updates the Store and enqueues keys). One Reflector runs on one named thread,
``reflector/<name>``; only :meth:`Reflector.stop` and :meth:`Reflector.state` are called from other
threads. It owns the resourceVersion bookkeeping, the backoff and the circuit breaker of its
resource.

It reproduces client-go v0.36 ``tools/cache/reflector.go`` (informer-semantics.md §2.1, §2.2);
line numbers below refer to that file:

* run loop: ListAndWatch, and a backoff step before every ListAndWatch after the first
  (``Until(immediate, sliding)``, L423-435) - 0.8 s doubling, jittered, capped at 30 s, reset after
  two healthy minutes (``retry.ClientGoBackoff``), interruptible by stop;
* list (L674-783): RV ladder "0" first, lastSyncRV on relists, "" after Expired/TooLarge
  (L1116-1132); pages of 500 unless listing at a specific RV (L696-717); continue pages drop the
  RV and an expired continue token on page >= 2 falls back to one unpaginated list at the original
  RV (pager.go L93-125, L158-166); ``store.replace(items, listRV)`` in one call;
* watch (L561-670): from the last RV, ``allowWatchBookmarks``, random ``timeoutSeconds``; a clean
  close or a read timeout re-watches at once without relisting; 410 returns to relist; 429 and
  refused connections back off and re-watch from the same RV (L605-617, L652-659); a watch that
  ends within 1 s with no event is an error (L1089-1092); every event's RV, bookmarks included, is
  recorded, except synthetic ADDED events of a watch started at "" or "0" (L585-603, L621-637);
* optional WatchList (``sendInitialEvents``, L785-908) with fallback to a normal list on error.

On top, a circuit breaker (``retry.CircuitBreaker``): after ``max_failures`` consecutive failed
attempts the reflector makes no request for a growing cool-down, then tries once; it never gives
up. Malformed watch lines are logged, counted and skipped. Time, randomness and waiting are
injected so tests drive them instead of sleeping.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from informer_mirror import gctuning
from informer_mirror.errors import (
    KubeConnectionError,
    KubeError,
    KubeExpiredError,
    KubeResourceVersionTooLarge,
    KubeTimeoutError,
    KubeTooManyRequests,
)
from informer_mirror.informer.pager import ContinueExpired, PagedList, full_list
from informer_mirror.informer.reflector_progress import Progress
from informer_mirror.informer.reflector_types import (
    Phase,
    ReflectorOptions,
    ReflectorState,
    ReflectorStore,
    RestartReason,
    ends_initial_events,
    event_problem,
)
from informer_mirror.informer.stored import object_key
from informer_mirror.kube.listwatch import (
    ListerWatcher,
    MalformedEvent,
    WatchEvent,
    WatchStream,
)
from informer_mirror.retry import CircuitBreaker, ClientGoBackoff, wait_interruptibly

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Wait = Callable[[float], bool]
"""``wait(seconds) -> stop_requested``: the only way the reflector passes time."""


class VeryShortWatchError(KubeError):
    """A watch ended within ``very_short_watch`` seconds with no event (reflector.go L1089-1092)."""


class _Stopped(Exception):
    """Unwinds ListAndWatch once stop was requested."""


def _too_old(error: BaseException) -> bool:
    """client-go ``isExpiredError`` or ``isTooLargeResourceVersionError``."""
    return isinstance(error, KubeExpiredError | KubeResourceVersionTooLarge)


class Reflector:
    """List and watch one resource into a ``ReflectorStore``, forever, until stopped."""

    def __init__(
        self,
        *,
        name: str,
        lister_watcher: ListerWatcher,
        store: ReflectorStore,
        options: ReflectorOptions | None = None,
        backoff: ClientGoBackoff | None = None,
        breaker: CircuitBreaker | None = None,
        resource_version: str | None = None,
        stop: threading.Event | None = None,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
        wait: Wait | None = None,
    ) -> None:
        """``resource_version``: ``None`` for a fresh reflector (first list at "0"); a persisted
        RV to list "not older than" it; ``""`` when the store already holds state of unknown age,
        so the first list is a consistent read (pitfall 3: never "0" when state exists)."""
        self.name = name
        self._lw = lister_watcher
        self._store = store
        self._opts = options or ReflectorOptions()
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._stop = stop or threading.Event()
        self._wait: Wait = wait or (lambda seconds: wait_interruptibly(self._stop, seconds))
        self._backoff = backoff or ClientGoBackoff(clock=clock, rng=self._rng)
        self._breaker = breaker or CircuitBreaker(name=f"reflector/{name}", clock=clock)
        self._thread: threading.Thread | None = None
        self._progress = Progress(name, resource_version)
        self._paginated_result = False  # only this thread reads or writes it

    # -- lifecycle (any thread) ---------------------------------------------------------------

    def start(self) -> None:
        """Start the ``reflector/<name>`` thread."""
        if self._thread is not None:
            raise RuntimeError(f"reflector/{self.name} already started")
        self._thread = threading.Thread(target=self.run, name=f"reflector/{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end and wake it from any blocking read or wait."""
        self._stop.set()
        self._lw.close()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True if it ended (or never started)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def stop_event(self) -> threading.Event:
        """The event that ends the run loop."""
        return self._stop

    @property
    def has_synced(self) -> bool:
        """True once a complete list has been applied to the store."""
        return self._progress.synced

    @property
    def last_sync_resource_version(self) -> str:
        """The RV the next watch (or relist) starts from."""
        return self._progress.last_sync_rv

    def state(self) -> ReflectorState:
        """A frozen snapshot of progress, for /status, /metrics and tests."""
        circuit = self._breaker.snapshot()
        return self._progress.snapshot(
            failures=circuit.consecutive_failures, circuit=circuit.state.value
        )

    # -- run loop (reflector thread) ------------------------------------------------------------

    def run(self) -> None:
        """The thread body: ListAndWatch, back off, repeat (reflector.go L423-435)."""
        log.info("reflector/%s: starting (%s)", self.name, self._lw.resource.path)
        first = True
        retry_after: float | None = None
        try:
            while not self._stop.is_set():
                if not first:
                    self._set_phase(Phase.BACKING_OFF)
                    if self._wait(self._backoff.next_delay(retry_after)):
                        break
                first = False
                retry_after = None
                try:
                    self._list_and_watch()
                except _Stopped:
                    break
                except KubeError as e:
                    if self._stop.is_set():
                        break
                    self._failed(e)
                    retry_after = getattr(e, "retry_after", None)
                except Exception as e:  # the thread's top-level loop: log, count, back off
                    if self._stop.is_set():
                        break
                    log.exception("reflector/%s: unexpected error", self.name)
                    self._failed(e)
        finally:
            self._set_phase(Phase.STOPPED)
            log.info("reflector/%s: stopped", self.name)

    def _list_and_watch(self) -> None:
        """client-go ``ListAndWatch`` (L470-509): a list (or WatchList), then watch until error."""
        stream: WatchStream | None = None
        events: Iterator[WatchEvent | MalformedEvent] | None = None
        if self._opts.use_watch_list:
            try:
                stream, events = self._watch_list()
            except _Stopped:
                raise
            except KubeError as e:
                if self._stop.is_set():
                    raise _Stopped from e
                # Every attempt reports to the breaker (a half-open trial must end somehow).
                self._failed(e)
                log.warning("reflector/%s: watch-list failed; falling back to a list", self.name)
        if stream is None:
            self._list()
        self._watch(stream, events)

    # -- list ----------------------------------------------------------------------------------

    def _list(self) -> None:
        self._await_circuit()
        self._set_phase(Phase.LISTING)
        rv = self._progress.relist_rv()
        limit = self._page_limit(rv)
        # No garbage collection while the list is decoded and ingested: every page's dicts are
        # alive until the Store has its records, and freed by reference counting right after,
        # so a collection would only rescan them (gctuning.py; 3x the cost of the list).
        with gctuning.paused():
            list_rv, count = self._list_into_store(rv, limit)
        self._breaker.record_success()
        self._progress.listed(list_rv)
        log.info("reflector/%s: listed %d objects at RV %s", self.name, count, list_rv)

    def _list_into_store(self, rv: str, limit: int) -> tuple[str, int]:
        try:
            try:
                pages = self._open_list(rv, limit)
            except KubeError as e:
                if not _too_old(e) or self._stop.is_set():
                    raise
                # L719-729: the RV we listed at is gone (or not yet known): list at "" at once.
                log.info(
                    'reflector/%s: list at RV %r failed (%s); relisting at ""', self.name, rv, e
                )
                self._progress.mark_rv_unavailable()
                pages = self._open_list(self._progress.relist_rv(), limit)
            if rv == "0" and pages.paginated:
                self._paginated_result = True  # L736-748: the watch cache is off for this type
            # The store consumes the pages as they arrive and swaps its content only at the end.
            list_rv, count = pages.resource_version, 0
            try:
                self._store.replace(pages, list_rv)
                count = pages.count
            except ContinueExpired as e:
                log.info("reflector/%s: %s; one full list at RV %r", self.name, e, rv)
                page = full_list(
                    self._lw, resource_version=pages.requested_rv, before_request=self._list_request
                )
                list_rv, count = page.resource_version, len(page.items)
                self._store.replace(page.items, list_rv)
        except KubeError as e:
            self._check_stopped(e)
            raise
        return list_rv, count

    def _open_list(self, rv: str, limit: int) -> PagedList:
        return PagedList(
            self._lw, resource_version=rv, limit=limit, before_request=self._list_request
        )

    def _list_request(self) -> None:
        self._raise_if_stopped()
        self._progress.count("list_requests")

    def _page_limit(self, rv: str) -> int:
        """L696-717: paginate unless listing at a specific RV, which the watch cache serves."""
        if self._opts.force_page_size or self._paginated_result:
            return self._opts.page_size
        if rv not in ("", "0"):
            return 0
        return self._opts.page_size

    # -- watch-list ------------------------------------------------------------------------------

    def _watch_list(self) -> tuple[WatchStream, Iterator[WatchEvent | MalformedEvent]]:
        """client-go ``watchList`` (L785-908): stream the initial state, then keep the stream."""
        while True:
            self._await_circuit()
            self._set_phase(Phase.LISTING)
            rv = self._progress.rewatch_rv()
            start = self._clock()
            try:
                stream = self._open_watch(rv, send_initial_events=True)
            except (KubeConnectionError, KubeTooManyRequests) as e:
                self._watch_retry_wait(e)
                continue
            except KubeError as e:
                if _too_old(e):
                    self._mark_rv_unavailable(e)
                    continue
                raise
            events = iter(stream)
            temp: dict[str, dict[str, Any]] = {}
            try:
                bookmark_rv = self._consume(events, initial=temp)
            except (KubeConnectionError, KubeTooManyRequests) as e:
                stream.close()
                self._watch_retry_wait(e)
                continue
            except KubeError as e:
                stream.close()
                if _too_old(e):
                    self._mark_rv_unavailable(e)
                    continue
                raise
            if bookmark_rv is None:  # the stream ended before the initial-events-end bookmark
                stream.close()
                self._raise_if_stopped()
                self._after_clean_end(start, RestartReason.CLOSED, "watch-list ended early")
                self._failed(KubeConnectionError(f"watch-list of {self.name} ended early"))
                continue
            self._store.replace(list(temp.values()), bookmark_rv)
            self._breaker.record_success()
            self._progress.listed(bookmark_rv)
            log.info(
                "reflector/%s: watch-list streamed %d objects at RV %s",
                self.name,
                len(temp),
                bookmark_rv,
            )
            return stream, events

    # -- watch -------------------------------------------------------------------------------------

    def _watch(
        self, stream: WatchStream | None, events: Iterator[WatchEvent | MalformedEvent] | None
    ) -> None:
        """client-go ``watch`` (L561-670): re-watch until an error sends us back to relist."""
        while True:
            self._raise_if_stopped()
            start = self._clock()
            if stream is None or events is None:
                self._await_circuit()
                try:
                    stream = self._open_watch(self.last_sync_resource_version)
                except (KubeConnectionError, KubeTooManyRequests) as e:
                    # isWatchErrorRetriable (L1193-1205): same RV, after one backoff step.
                    self._watch_retry_wait(e)
                    continue
                except KubeTimeoutError as e:
                    # Stalled before the headers: the read timeout already spaced the attempts,
                    # so re-watch from the same RV without a relist (pitfall 7).
                    self._restart(RestartReason.READ_TIMEOUT, e)
                    self._failed(e)
                    continue
                except KubeError as e:
                    self._restart(RestartReason.EXPIRED if _too_old(e) else RestartReason.ERROR, e)
                    raise
                events = iter(stream)
            self._set_phase(Phase.WATCHING)
            try:
                self._consume(events, initial=None)
            except KubeTooManyRequests as e:
                self._restart(RestartReason.TOO_MANY_REQUESTS, e)
                self._watch_retry_wait(e, count=False)
                continue
            except (KubeTimeoutError, KubeConnectionError) as e:
                # Mid-stream, client-go treats a timeout or probable EOF as a clean close
                # (streamwatcher.go, utilnet.IsProbableEOF): re-watch at once from the last RV.
                self._check_stopped(e)
                reason = (
                    RestartReason.READ_TIMEOUT
                    if isinstance(e, KubeTimeoutError)
                    else RestartReason.CLOSED
                )
                self._after_clean_end(start, reason, str(e))
                continue
            except KubeError as e:
                self._check_stopped(e)
                self._restart(RestartReason.EXPIRED if _too_old(e) else RestartReason.ERROR, e)
                raise
            finally:
                stream.close()
                stream, events = None, None
            self._raise_if_stopped()
            self._after_clean_end(start, RestartReason.CLOSED, "closed by the server")

    def _after_clean_end(self, start: float, reason: RestartReason, detail: str) -> None:
        if self._progress.events_since_open() == 0 and (
            self._clock() - start < self._opts.very_short_watch
        ):
            self._restart(RestartReason.VERY_SHORT, detail)
            raise VeryShortWatchError(
                f"very short watch of {self.name}: ended within "
                f"{self._opts.very_short_watch:g} s with no event ({detail})"
            )
        self._restart(reason, detail)
        self._breaker.record_success()  # a watch that stayed open is a healthy one
        log.debug("reflector/%s: watch ended (%s); re-watching", self.name, detail)

    def _open_watch(self, rv: str, *, send_initial_events: bool = False) -> WatchStream:
        self._raise_if_stopped()
        timeout = self._watch_timeout()
        self._progress.watch_opened(rv)
        try:
            return self._lw.watch(
                resource_version=rv,
                timeout_seconds=timeout,
                send_initial_events=send_initial_events,
            )
        except KubeError as e:
            self._check_stopped(e)
            raise

    def _watch_timeout(self) -> int:
        """L588: ``minWatchTimeout * (1 + rand)``, i.e. uniform in [300, 600) seconds."""
        low, high = self._opts.watch_timeout_min, self._opts.watch_timeout_max
        return max(1, int(low + self._rng.random() * (high - low)))

    def _consume(
        self,
        events: Iterator[WatchEvent | MalformedEvent],
        *,
        initial: dict[str, dict[str, Any]] | None,
    ) -> str | None:
        """Apply events until the stream ends (``None``) or, when ``initial`` is given (WatchList),
        until the initial-events-end bookmark (its RV). ERROR events arrive as raised KubeErrors."""
        first = True
        for event in events:
            if self._stop.is_set():
                raise _Stopped
            if isinstance(event, MalformedEvent):
                self._malformed(event.reason, event.line)
                continue
            obj = event.object
            reason = event_problem(event, self._lw.resource.kind)
            if reason is not None:
                self._malformed(reason, obj)
                continue
            meta: dict[str, Any] = obj["metadata"]
            rv: str = meta["resourceVersion"]
            if first:
                first = False
                self._breaker.record_success()  # the watch proved healthy
            self._apply(event.type, obj, initial)
            self._progress.event_applied(event.type, rv, self._clock(), record=initial is None)
            if initial is not None and event.type == "BOOKMARK" and ends_initial_events(meta):
                return rv
        return None

    def _apply(
        self, etype: str, obj: dict[str, Any], initial: dict[str, dict[str, Any]] | None
    ) -> None:
        if initial is not None:  # WatchList: a temporary store, swapped in at the bookmark
            if etype == "BOOKMARK":
                return
            key = object_key(obj)
            if etype == "DELETED":
                initial.pop(key, None)
            else:
                initial[key] = obj
            return
        try:
            if etype == "ADDED":
                self._store.add(obj)
            elif etype == "MODIFIED":
                self._store.update(obj)
            elif etype == "DELETED":
                self._store.delete(obj)
            else:
                self._store.bookmark(obj["metadata"]["resourceVersion"])
        except Exception:  # L1039-1057: drop this event, keep the RV moving
            self._progress.count("dropped")
            log.exception(
                "reflector/%s: store rejected a %s event for %s; dropped",
                self.name,
                etype,
                object_key(obj),
            )

    # -- failures, backoff, circuit -------------------------------------------------------------

    def _watch_retry_wait(self, error: KubeError, *, count: bool = True) -> None:
        """Back off one step (honouring Retry-After), then re-watch from the same RV."""
        if count:
            reason = (
                RestartReason.TOO_MANY_REQUESTS
                if isinstance(error, KubeTooManyRequests)
                else RestartReason.CONNECTION
            )
            self._restart(reason, error)
        self._failed(error)
        self._set_phase(Phase.BACKING_OFF)
        retry_after = getattr(error, "retry_after", None)
        if self._wait(self._backoff.next_delay(retry_after)):
            raise _Stopped

    def _await_circuit(self) -> None:
        """Make no request while the circuit is open; the trial after the cool-down proceeds."""
        while not self._breaker.allow():
            self._set_phase(Phase.CIRCUIT_OPEN)
            # A granted-but-unreported trial cannot happen here (every attempt reports), so a
            # zero wait only means the cool-down just ended; the next allow() grants the trial.
            if self._wait(max(self._breaker.seconds_until_attempt(), 0.001)):
                raise _Stopped

    def _failed(self, error: BaseException) -> None:
        self._breaker.record_failure(error)
        text = f"{type(error).__name__}: {error}"
        self._progress.failed(text)
        log.warning("reflector/%s: %s", self.name, text)

    def _restart(self, reason: RestartReason, detail: object) -> None:
        self._progress.restart(reason)
        log.debug("reflector/%s: watch restart (%s): %s", self.name, reason.value, detail)

    def _mark_rv_unavailable(self, error: KubeError) -> None:
        self._failed(error)
        log.info('reflector/%s: streaming again from RV ""', self.name)
        self._progress.mark_rv_unavailable()

    def _malformed(self, reason: str, sample: object) -> None:
        self._progress.count("malformed")
        log.warning(
            "reflector/%s: skipping a malformed watch event (%s): %.200r", self.name, reason, sample
        )

    def _check_stopped(self, error: BaseException) -> None:
        if self._stop.is_set():
            raise _Stopped from error

    def _raise_if_stopped(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def _set_phase(self, phase: Phase) -> None:
        self._progress.set_phase(phase)


__all__ = ["Reflector", "VeryShortWatchError"]
