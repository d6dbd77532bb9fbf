"""Injected time for reflector tests: a clock that moves only when the code under test waits.

``FakeTime.wait`` is what the Reflector calls for every backoff and circuit cool-down. In ``auto``
mode it returns at once, advancing the clock by the requested seconds, so a storm of failures runs
through its whole backoff schedule in milliseconds of real time. In manual mode each wait blocks
until the test calls :meth:`FakeTime.release`, so a test can inspect the reflector while it is
backing off (how many requests it made, in which phase it waits) before letting it continue.
Every wait is recorded with the reflector phase it happened in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Waited:
    seconds: float
    phase: str


class FakeTime:
    def __init__(
        self, *, auto: bool = True, start: float = 1000.0, stop: threading.Event | None = None
    ) -> None:
        self.auto = auto
        self.stop_event = stop or threading.Event()
        self._now = start
        self._cond = threading.Condition()
        self._waits: list[Waited] = []
        self._released = 0
        self._stopped = False
        self.phase_of: Callable[[], str] = lambda: "?"

    def clock(self) -> float:
        with self._cond:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._cond:
            self._now += seconds

    def wait(self, seconds: float) -> bool:
        phase = self.phase_of()
        with self._cond:
            index = len(self._waits)
            self._waits.append(Waited(seconds, phase))
            self._cond.notify_all()
            if not self.auto:
                # Poll the stop event too: setting it notifies nobody here.
                while not (self._released > index or self._stopped or self.stop_event.is_set()):
                    self._cond.wait(0.02)
            self._now += seconds
            return self._stopped or self.stop_event.is_set()

    def release(self, count: int = 1) -> None:
        """Let the next ``count`` blocked (or future) waits return."""
        with self._cond:
            self._released += count
            self._cond.notify_all()

    def stop(self) -> None:
        """Wake every wait for good (what setting the stop event does to a real wait)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    @property
    def waits(self) -> list[Waited]:
        with self._cond:
            return list(self._waits)

    @property
    def pending(self) -> int:
        """Waits started but not yet released (manual mode)."""
        with self._cond:
            return max(0, len(self._waits) - self._released)
