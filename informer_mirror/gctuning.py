"""Garbage-collector and GIL policy for a process that decodes large JSON documents all day.

Place in the data flow: :func:`paused` wraps a whole list, from the first request to the Store
holding every record (``informer/reflector.py``, on reflector threads); a watch event is too
small to need it (the pause itself costs 1.5 us). :func:`tune_process` is called once by the
process owner (``cli.py`` for ``run`` and ``demo``, the benchmarks) before the informers start;
not by ``daemon.py``, which tests run inside pytest. Owns no thread; the pause depth is
process-wide state guarded by a lock.

Why: decoding one page of 500 Pods allocates ~125k containers and nearly all of them survive
until the page is ingested. CPython's default collector (a young collection every 700
allocations, a full one whenever survivors grow the old generation by a quarter) runs ~180
collections per page and rescans the whole heap several times: measured here, decoding costs
217 us per Pod with the collector running and 39 us with it paused. None of that garbage is
cyclic (it is freed by reference counting as soon as the page is ingested), so pausing the
collector while it exists loses nothing; cycles made elsewhere meanwhile are collected at the
next collection after the pause.

- :func:`paused` is reentrant and safe across threads: the collector is off while any thread is
  inside, and is turned back on (only if it was on before the first entered) when the last one
  leaves. A list over a slow network keeps the collector off for as long as it takes; what
  other threads meanwhile leave in reference cycles (a few exception tracebacks) waits until
  it ends.
- :func:`tune_process` moves the start-up heap (modules, registry, settings: ~100k objects that
  live as long as the process) into the permanent generation (``gc.freeze``), so no collection
  rescans it, and raises the young-generation threshold so the few thousand objects each batch
  of watch events allocates do not trigger a collection each. It also shortens the GIL's switch
  interval (:data:`SWITCH_INTERVAL`).
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000
"""Allocations between young collections (CPython's default: 700)."""
MIDDLE_THRESHOLD = 20
"""Young collections between middle-generation collections (default 10)."""
OLD_THRESHOLD = 100
"""Middle collections between full collections, on top of CPython's own rule that a full
collection waits until the objects surviving into the old generation reach a quarter of it."""

SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while another waits for it (CPython's default: 0.005).

Why: the writer hands each SQLite statement to C with the GIL released, and wants it back when
the statement ends; the reflector meanwhile runs Python (decode, transform) and keeps it until
the interval runs out, so with the default the second core idled for up to 5 ms after each
statement. Measured on 2 cores (``bench/pipeline.py``'s mirror, means of 6-21 runs each):

==========  ============================  ================================
interval    initial sync, 10k Pods        burst of 10k watch events
==========  ============================  ================================
5 ms        17.3k objects/s               16.1k events/s
1 ms        18.6k                         16.3k
0.5 ms      19.2k                         16.3k
0.2 ms      19.7k                         14.6k
0.1 ms      20.9k                         -
0.05 ms     18.1k                         -
==========  ============================  ================================

Shorter intervals help the list, where the writer's statements are long, and hurt the burst of
events, where the reflector is forced off the GIL mid-event more often than the writer needs it
back; 0.5 ms takes most of the first and none of the second."""

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off for the ``with`` body (see the module docstring)."""
    global _depth, _resume  # noqa: PLW0603 - one collector per process: process-wide state
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()


def tune_process() -> None:
    """Freeze the start-up heap out of every collection, raise the thresholds and shorten the
    GIL switch interval (once, early)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
    sys.setswitchinterval(SWITCH_INTERVAL)
