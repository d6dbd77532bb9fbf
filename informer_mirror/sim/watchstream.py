"""Serving one watch as the real apiserver does: JSON lines in HTTP/1.1 chunks, bookmarks, timeout.

Place in the data flow: the HTTP request thread that received ``?watch=true`` (``sim/handler.py``)
opens a :class:`~informer_mirror.sim.watchers.Watcher` on the state and calls :func:`serve_watch`,
which runs on that thread until the stream ends. Events are taken from the watcher under the state
lock and written with the lock released, so a slow client only slows its own stream. The bytes of
an event are the stored object bytes spliced into
``{"type":...,"object":{"kind":...,"apiVersion":...,`` with no re-serialisation.

Timing follows ``cacheWatcher``: a BOOKMARK (current global RV) every ``bookmark_interval`` seconds
and one ``bookmark_before_end`` seconds before ``timeoutSeconds`` runs out (capped at half the
timeout, so short test timeouts still get one; the real server skips it below 2 s), then a clean
end with the terminating chunk. ``sendInitialEvents`` ends its synthetic ADDED events with a
BOOKMARK annotated ``k8s.io/initial-events-end: "true"``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from informer_mirror.kinds import KindInfo
from informer_mirror.sim.watchers import Watcher, WatchEvent

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
LIVENESS_INTERVAL = 1.0
"""Seconds between checks that the client of an idle or stalled stream is still connected, so an
abandoned watch does not hold its thread until its timeout (the real server notices through the
request context)."""
_CHUNK_TARGET = 256 * 1024  # bytes of events per chunk while replaying initial state


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamTiming:
    """Timing of one watch stream (seconds)."""

    timeout: float
    """``timeoutSeconds`` of the request, or the server default."""
    bookmarks: bool
    """``allowWatchBookmarks=true``."""
    bookmark_interval: float
    bookmark_before_end: float


def object_prefix(kind: KindInfo) -> bytes:
    """``{"kind":"Pod","apiVersion":"v1",``: prepended to a stored body minus its ``{``."""
    return (
        b'{"kind":"' + kind.kind.encode() + b'","apiVersion":"' + kind.api_version.encode() + b'",'
    )


def event_line(prefix: bytes, event: WatchEvent) -> bytes:
    """One watch event as a JSON line."""
    body = event.obj.body
    if event.rv != event.obj.rv:  # an object leaving the selection: old content, the event's RV
        obj: dict[str, Any] = orjson.loads(body)
        obj["metadata"]["resourceVersion"] = str(event.rv)
        body = orjson.dumps(obj)
    return b'{"type":"' + event.type.encode() + b'","object":' + prefix + body[1:] + b"}\n"


def bookmark_line(kind: KindInfo, rv: int, *, initial_events_end: bool = False) -> bytes:
    """A BOOKMARK event carrying only ``metadata.resourceVersion`` (and the end annotation)."""
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_events_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    obj = {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": meta}
    return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"


def error_line(status: dict[str, Any]) -> bytes:
    """An ERROR event carrying a ``Status`` (how a 200 stream reports 410 and 504)."""
    return orjson.dumps({"type": "ERROR", "object": status}) + b"\n"


class ChunkedWriter:
    """HTTP/1.1 chunked transfer coding over a blocking file-like socket writer."""

    def __init__(self, write: Callable[[bytes], object]) -> None:
        self._write = write

    def chunk(self, data: bytes) -> None:
        """Send one chunk (nothing for empty data: an empty chunk would end the body)."""
        if data:
            self._write(b"%x\r\n" % len(data) + data + b"\r\n")

    def end(self) -> None:
        """Send the terminating chunk: the response is complete, the connection reusable."""
        self._write(b"0\r\n\r\n")


def _wait_unstalled(
    watcher: Watcher, stop: threading.Event, client_connected: Callable[[], bool]
) -> bool:
    while True:
        ready = watcher.wait_unstalled(stop, LIVENESS_INTERVAL)
        if ready is not None:
            return ready
        if not client_connected():
            return False


def serve_watch(
    watcher: Watcher,
    *,
    begin: Callable[[], ChunkedWriter],
    timing: StreamTiming,
    initial_events_end: bool,
    stop: threading.Event,
    client_connected: Callable[[], bool] = lambda: True,
) -> bool:
    """Stream ``watcher`` until timeout, a fault, shutdown or the client leaving. ``begin`` sends
    the response headers (only once any stall is over); ``client_connected`` is polled while
    idle. True: ended cleanly; False: the caller must close the connection abruptly. Socket
    errors propagate (the client went away mid-write)."""
    started = time.monotonic()
    deadline = started + timing.timeout
    pre_end = deadline - min(timing.bookmark_before_end, timing.timeout / 2)
    next_bookmark = started + timing.bookmark_interval if timing.bookmarks else float("inf")
    pre_end_pending = timing.bookmarks
    kind = watcher.kind
    prefix = object_prefix(kind)

    if not _wait_unstalled(watcher, stop, client_connected):
        return False
    out = begin()

    batch: list[bytes] = []
    size = 0
    for obj in watcher.initial:
        line = b'{"type":"ADDED","object":' + prefix + obj.body[1:] + b"}\n"
        batch.append(line)
        size += len(line)
        if size >= _CHUNK_TARGET:
            out.chunk(b"".join(batch))
            batch, size = [], 0
            if not _wait_unstalled(watcher, stop, client_connected):
                return False
    if initial_events_end and timing.bookmarks:
        batch.append(bookmark_line(kind, watcher.start_rv, initial_events_end=True))
    out.chunk(b"".join(batch))
    watcher.initial = []

    while True:
        now = time.monotonic()
        if now >= deadline:
            out.end()
            return True
        bookmark_at = min(next_bookmark, pre_end if pre_end_pending else float("inf"))
        wake_at = min(deadline, bookmark_at, now + LIVENESS_INTERVAL)
        work = watcher.next_work(
            wake_at=wake_at,
            bookmark_due=wake_at == bookmark_at and bookmark_at < deadline,
            stop=stop,
        )
        if work.abort:
            return False
        if not (work.events or work.end or work.bookmark_rv is not None):
            if not client_connected():
                return False
            continue
        if work.events:
            # Bounded chunks, as for the initial events: the real apiserver flushes after every
            # event, so a client never meets one multi-megabyte chunk of backlog.
            batch, size = [], 0
            for e in work.events:
                line = event_line(prefix, e)
                batch.append(line)
                size += len(line)
                if size >= _CHUNK_TARGET:
                    out.chunk(b"".join(batch))
                    batch, size = [], 0
            out.chunk(b"".join(batch))
        elif work.end:
            out.end()
            return True
        elif work.bookmark_rv is not None:
            out.chunk(bookmark_line(kind, work.bookmark_rv))
            now = time.monotonic()
            next_bookmark = now + timing.bookmark_interval if timing.bookmarks else float("inf")
            if now >= pre_end:
                pre_end_pending = False
