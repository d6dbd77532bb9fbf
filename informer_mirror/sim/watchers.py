"""A watch subscription of the simulated API server: hand-off between state writers and a stream.

Place in the data flow: ``ClusterState.watch`` creates a :class:`Watcher` and registers it with the
kind's table; every write (on whichever thread writes: HTTP request threads, the churn thread,
tests) calls :meth:`Watcher.offer` *under the state lock*, which only converts and queues the
event. The HTTP thread serving the watch (``sim/watchstream.py``) calls :meth:`Watcher.next_work`,
which waits on a condition bound to that same lock, drains the queue, and then writes to the socket
with the lock released. So the lock is never held across socket I/O, and a bookmark's RV (read
under the lock with the queue empty) can never overtake an event still queued for that watcher.

Like the apiserver's ``cacheWatcher`` it applies the watcher's namespace and selectors per event:
an object that starts matching arrives as ADDED, one that stops matching as DELETED carrying its
previous content with the event's RV. A watcher that falls ``max_queue`` events behind is closed
(cleanly), as the real watch cache closes unresponsive watchers; the client then re-watches from
its last RV.

Faults act on a watcher from other threads through :meth:`drop` (abrupt close), :meth:`close`
(clean end) and :meth:`set_stalled` (no bytes at all until unstalled or dropped; queued events are
delivered after an unstall, as TCP would).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from informer_mirror.kinds import KindInfo
from informer_mirror.sim.selectors import Selector
from informer_mirror.sim.table import ADDED, DELETED, MODIFIED, HistoryEvent, StoredObject


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """An event as this watcher will send it. ``rv`` differs from ``obj.rv`` only for the DELETED
    sent when an object stops matching (previous content, the event's RV)."""

    type: str
    obj: StoredObject
    rv: int


@dataclass(slots=True)
class Work:
    """What the stream thread must do next, decided under the lock by :meth:`Watcher.next_work`."""

    events: list[WatchEvent] = field(default_factory=list)
    bookmark_rv: int | None = None
    end: bool = False
    """End the stream cleanly (terminating chunk)."""
    abort: bool = False
    """Close the connection abruptly (no terminating chunk)."""


class Watcher:
    """One open watch. Created by ``ClusterState.watch``; the serving thread owns its lifetime."""

    def __init__(
        self,
        *,
        kind: KindInfo,
        namespace: str | None,
        selector: Selector,
        cond: threading.Condition,
        current_rv: Callable[[], int],
        max_queue: int,
        stalled: bool = False,
    ) -> None:
        self.kind = kind
        self.namespace = namespace if kind.namespaced else None
        self.selector = selector
        self._cond = cond
        self._current_rv = current_rv
        self._max_queue = max_queue
        self._queue: deque[WatchEvent] = deque()
        self.initial: list[StoredObject] = []
        """Objects to send as synthetic ADDED events before anything queued."""
        self.start_rv = 0
        """The RV the watch starts after (for initial events: the snapshot's RV)."""
        self.dropped = False
        self.closing = False
        self.stalled = stalled
        self.overflowed = False
        self.unregister: Callable[[], None] = lambda: None

    def visible(self, obj: StoredObject) -> bool:
        """True when ``obj`` is in this watcher's namespace and matches its selectors."""
        if self.namespace is not None and obj.namespace != self.namespace:
            return False
        return self.selector.empty or self.selector.matches(obj.labels, obj.fields)

    # -- called by writers, with the state lock held ---------------------------------------------

    def _convert(self, event: HistoryEvent) -> WatchEvent | None:
        now_visible = event.type != DELETED and self.visible(event.obj)
        was_visible = event.prev is not None and self.visible(event.prev)
        if now_visible:
            return WatchEvent(MODIFIED if was_visible else ADDED, event.obj, event.rv)
        if not was_visible:
            return None
        if event.type == DELETED:
            return WatchEvent(DELETED, event.obj, event.rv)
        assert event.prev is not None
        return WatchEvent(DELETED, event.prev, event.rv)

    def offer(self, event: HistoryEvent) -> None:
        """Queue ``event`` as this watcher sees it (or not at all). Caller holds the lock."""
        if self.overflowed:
            return
        out = self._convert(event)
        if out is None:
            return
        self._queue.append(out)
        if len(self._queue) > self._max_queue:
            self.overflowed = True
            self._queue.clear()
        self._cond.notify_all()

    def preload(self, events: list[HistoryEvent]) -> None:
        """Queue replayed history (a watch from an old RV). Caller holds the lock. Not bounded by
        ``max_queue``: the real watch cache replays its history without the live buffer."""
        for event in events:
            out = self._convert(event)
            if out is not None:
                self._queue.append(out)
                self._max_queue += 1

    # -- called by fault injection and shutdown, from any thread ---------------------------------

    def drop(self) -> None:
        """Close the connection abruptly, mid-stream."""
        with self._cond:
            self.dropped = True
            self._cond.notify_all()

    def close(self) -> None:
        """End the stream cleanly, as a server-side timeout would."""
        with self._cond:
            self.closing = True
            self._cond.notify_all()

    def set_stalled(self, stalled: bool) -> None:
        """Stop (or resume) sending any byte on this stream."""
        with self._cond:
            self.stalled = stalled
            self._cond.notify_all()

    # -- called by the serving thread -------------------------------------------------------------

    def wait_unstalled(self, stop: threading.Event, timeout: float) -> bool | None:
        """Block while stalled, at most ``timeout`` s: True once sending may go on, False when
        the stream must be aborted instead, None when still stalled."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.stalled and not (self.dropped or stop.is_set()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return not (self.dropped or stop.is_set())

    def next_work(self, *, wake_at: float, bookmark_due: bool, stop: threading.Event) -> Work:
        """Wait until there is something to send or ``wake_at`` (monotonic) passes; then, if
        ``bookmark_due`` and the stream is not stalled, hand out the current RV as a bookmark
        (read with the queue drained, so it never overtakes a queued event)."""
        with self._cond:
            while True:
                if self.dropped or stop.is_set():
                    return Work(abort=True)
                now = time.monotonic()
                if not self.stalled:
                    if self._queue:
                        events = list(self._queue)
                        self._queue.clear()
                        return Work(events=events)
                    if self.overflowed or self.closing:
                        return Work(end=True)
                    if now >= wake_at:
                        return Work(bookmark_rv=self._current_rv() if bookmark_due else None)
                elif now >= wake_at:
                    return Work()  # stalled: nothing may be sent, but the caller may look around
                self._cond.wait(wake_at - now)
