"""Waiting for a condition in a benchmark: poll it, with a deadline.

Used by the mirror clients of ``bench.suite`` and ``bench.sync_throughput`` to wait for the
writer's first full sync or for a burst to land. The interval is short (2 ms) because the wait
is part of what is timed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def wait_until(condition: Callable[[], bool], what: str, *, timeout: float = 3600.0) -> None:
    """Return once ``condition()`` is true; end the benchmark (SystemExit naming ``what``) if it
    is not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() >= deadline:
            raise SystemExit(f"bench: {what} did not happen within {timeout:.0f} s")
        pause.wait(0.002)
