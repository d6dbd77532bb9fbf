"""The health monitor: periodic checks of every reflector, the writer and the backend, with repair.

Place in the data flow: beside it, on the thread ``health``. Every ``health.interval`` seconds
(the seed's "periodic health checks", default 30) it looks at:

* each reflector (``components.InformerSlot``): is its thread alive; is its circuit closed; has a
  watch been silent for longer than a watch may last (``stall_after``: the longest server-side
  watch timeout plus slack, since the API server sends a bookmark at least once per watch, about
  2 s before it ends). With ``health.auto_reconnect`` a dead reflector is restarted over its
  Store from its last resourceVersion, a stalled watch is cut so it re-watches from the same RV
  (as after a read timeout), and a watch still silent at the next check is restarted;
* the writer (``BatchWriter.status()``): threads running, circuit closed, batches still being
  flushed while keys wait;
* the backend: ``ping()``.

It publishes the verdicts (``checks()``: component -> None or the problem; ``backend_up()``) for
``/api/v1/status``, ``/api/v1/health`` and the ``health_check_ok`` / ``backend_up`` metrics, and
sends ``WATCHDOG=1`` to systemd after each check while the daemon is *alive*, and between checks
often enough for ``WatchdogSec`` (half of it, see ``notify.watchdog_ping_interval``). Alive is
narrower than healthy on purpose: a forbidden resource, an open circuit or an unreachable
database are reported, but a restart by systemd would not fix them, so the watchdog keeps being
fed; it is starved only when the writer's threads are gone, or a reflector is dead or stalled and
``auto_reconnect`` is off, i.e. when restarting the process is the repair.

Time and waiting are injected (``clock``, ``wait``), and :meth:`HealthMonitor.run_once` runs one
round on the caller's thread, so tests drive the monitor without sleeping.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from informer_mirror.errors import BackendError
from informer_mirror.informer.reflector_types import Phase, ReflectorState
from informer_mirror.notify import Notifier
from informer_mirror.settings import HealthSettings
from informer_mirror.status import WriterView

log = logging.getLogger(__name__)

WRITER_STALL_MIN = 60.0
"""Seconds without a flushed batch while keys wait before the writer counts as stalled (at least;
two health intervals when that is longer)."""


class MonitoredReflector(Protocol):
    """What the monitor needs of one reflector (``components.InformerSlot`` fits)."""

    @property
    def name(self) -> str:
        """``pods``, or ``pods/<namespace>`` for one namespace of a resource."""
        ...

    def state(self) -> ReflectorState:
        """Its snapshot."""
        ...

    def alive(self) -> bool:
        """True while its thread runs."""
        ...

    def restart(self) -> bool:
        """Replace it by a new reflector over the same Store; False if refused (stopping)."""
        ...

    def reconnect(self) -> bool:
        """Cut its open watch so it re-watches from its last RV; False if none was open."""
        ...


class Pingable(Protocol):
    """The backend as the monitor sees it."""

    def ping(self) -> None:
        """Raise BackendError unless the database answers now."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthReport:
    """One round of checks."""

    checks: Mapping[str, str | None]
    """``reflector/<resource>``, ``writer``, ``backend`` -> None when healthy, else the problem."""
    backend_up: bool
    """Whether the backend answered the ping."""
    alive: bool
    """The watchdog verdict (see the module docstring)."""
    restarted: tuple[str, ...] = ()
    """Reflectors restarted in this round."""
    reconnected: tuple[str, ...] = ()
    """Reflectors whose stalled watch was cut in this round."""


@dataclass(slots=True)
class _Finding:
    problem: str | None = None
    fatal: bool = False
    restarted: list[str] = field(default_factory=list)
    reconnected: list[str] = field(default_factory=list)


class HealthMonitor:
    """Checks and repairs the daemon's components every ``settings.interval`` seconds."""

    def __init__(
        self,
        *,
        reflectors: Mapping[str, Sequence[MonitoredReflector]],
        writer: WriterView,
        backend: Pingable,
        settings: HealthSettings,
        stall_after: float,
        writer_stall_after: float | None = None,
        notifier: Notifier | None = None,
        watchdog_interval: float | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        """``reflectors``: resource name -> its reflectors; ``stall_after``: seconds of silence
        after which a watch is stalled; ``watchdog_interval``: seconds between WATCHDOG=1 pings
        (None: systemd watches no watchdog). ``wait(seconds) -> stop requested`` defaults to
        waiting on ``stop``."""
        if stall_after <= 0:
            raise ValueError("health: stall_after must be > 0")
        self._reflectors = {name: tuple(items) for name, items in reflectors.items()}
        self._writer = writer
        self._backend = backend
        self._settings = settings
        self._stall_after = stall_after
        self._writer_stall_after = (
            writer_stall_after
            if writer_stall_after is not None
            else max(WRITER_STALL_MIN, 2 * settings.interval)
        )
        self._notifier = notifier
        self._ping_every = watchdog_interval if notifier is not None else None
        self._stop = stop or threading.Event()
        self._clock = clock
        self._wait = wait or self._stop.wait
        self._lock = threading.Lock()  # guards the published results below
        self._checks: dict[str, str | None] = {}
        self._backend_up: bool | None = None
        self._alive = True
        self._thread: threading.Thread | None = None
        # Touched only by the thread running the checks.
        self._watching_since: dict[str, float] = {}
        self._stalls: dict[str, int] = {}
        self._writer_batches = -1
        self._writer_progress_at = clock()

    # -- published results (any thread) --------------------------------------------------------

    def checks(self) -> Mapping[str, str | None]:
        """The latest verdict per component; empty before the first round."""
        with self._lock:
            return dict(self._checks)

    def backend_up(self) -> bool | None:
        """The latest ping's result; None before the first round."""
        with self._lock:
            return self._backend_up

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread ``health``: a round at once, then every ``interval`` seconds."""
        if self._thread is not None:
            raise RuntimeError("health monitor already started")
        self._thread = threading.Thread(target=self._run, name="health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end after its current round."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True if it ended (or never started)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        log.info(
            "health: checking every %g s (auto_reconnect %s)",
            self._settings.interval,
            "on" if self._settings.auto_reconnect else "off",
        )
        next_round = self._clock()
        while True:
            now = self._clock()
            if now >= next_round:
                try:
                    self.run_once()
                except Exception:  # the thread's top-level loop: log and keep checking
                    log.exception("health: a round of checks failed")
                next_round = now + self._settings.interval
            elif self._notifier is not None and self._ping_every is not None:
                with self._lock:
                    alive = self._alive
                if alive:
                    self._notifier.watchdog()
            pause = next_round - self._clock()
            if self._ping_every is not None:
                pause = min(pause, self._ping_every)
            if self._wait(max(pause, 0.0)):
                break
        log.info("health: stopped")

    # -- one round -----------------------------------------------------------------------------

    def run_once(self) -> HealthReport:
        """Check everything once, repair what may be repaired, publish, feed the watchdog."""
        now = self._clock()
        checks: dict[str, str | None] = {}
        fatal = False
        restarted: list[str] = []
        reconnected: list[str] = []
        for resource, reflectors in self._reflectors.items():
            problems: list[str] = []
            for reflector in reflectors:
                finding = self._check_reflector(reflector, now)
                if finding.problem is not None:
                    prefix = f"{reflector.name}: " if len(reflectors) > 1 else ""
                    problems.append(prefix + finding.problem)
                fatal = fatal or finding.fatal
                restarted += finding.restarted
                reconnected += finding.reconnected
            checks[f"reflector/{resource}"] = "; ".join(problems) or None
        writer = self._check_writer(now)
        checks["writer"] = writer.problem
        fatal = fatal or writer.fatal
        backend_up, checks["backend"] = self._check_backend()
        self._publish(checks, backend_up=backend_up, alive=not fatal)
        if not fatal and self._notifier is not None and self._ping_every is not None:
            self._notifier.watchdog()
        return HealthReport(
            checks=checks,
            backend_up=backend_up,
            alive=not fatal,
            restarted=tuple(restarted),
            reconnected=tuple(reconnected),
        )

    def _check_reflector(self, reflector: MonitoredReflector, now: float) -> _Finding:
        name = reflector.name
        repair = self._settings.auto_reconnect
        if not reflector.alive():
            self._forget_watch(name)
            if not repair:
                return _Finding(
                    problem="reflector thread not running (health.auto_reconnect is off)",
                    fatal=True,
                )
            log.warning("health: reflector/%s is not running; restarting it", name)
            if reflector.restart():
                return _Finding(restarted=[name])
            return _Finding(problem="reflector thread not running")
        state = reflector.state()
        finding = _Finding()
        if state.circuit != "closed":
            finding.problem = (
                f"circuit {state.circuit} after {state.failures} consecutive failures "
                f"(last error: {state.last_error})"
            )
        silence = self._silence(name, state, now)
        if silence is None:
            return finding
        last = state.last_event_at
        if last is not None and last > self._watching_since[name]:
            self._stalls.pop(name, None)  # events flow again since the window (or repair) began
        if silence <= self._stall_after:
            return finding
        limit = self._stall_after
        stall = f"watch silent for {silence:.0f} s (a bookmark is due within {limit:.0f} s)"
        if not repair:
            finding.problem = stall + " (health.auto_reconnect is off)"
            finding.fatal = True
            return finding
        self._stalls[name] = self._stalls.get(name, 0) + 1
        self._watching_since[name] = now  # a fresh window for the repaired watch
        if self._stalls[name] == 1 and reflector.reconnect():
            log.warning("health: reflector/%s: %s; re-watching", name, stall)
            finding.reconnected.append(name)
        else:
            log.warning("health: reflector/%s: %s again; restarting it", name, stall)
            self._stalls.pop(name, None)
            if reflector.restart():
                finding.restarted.append(name)
        return finding

    def _silence(self, name: str, state: ReflectorState, now: float) -> float | None:
        """Seconds the current watch has gone without an event or bookmark; None unless
        watching. Measured from when this monitor first saw it watching at the earliest, so a
        reflector is never blamed for time before its watch opened."""
        if state.phase is not Phase.WATCHING:
            self._forget_watch(name)
            return None
        since = self._watching_since.setdefault(name, now)
        last = state.last_event_at
        return now - (since if last is None else max(since, last))

    def _forget_watch(self, name: str) -> None:
        self._watching_since.pop(name, None)
        self._stalls.pop(name, None)

    def _check_writer(self, now: float) -> _Finding:
        status = self._writer.status()
        if not status.running:
            return _Finding(problem="writer threads are not running", fatal=True)
        waiting = status.queue_depth + status.in_flight
        if waiting == 0 or status.batches != self._writer_batches:
            self._writer_batches = status.batches
            self._writer_progress_at = now
        if status.circuit != "closed":
            detail = status.circuit_detail.last_error or status.last_error
            return _Finding(problem=f"circuit {status.circuit} (last error: {detail})")
        idle = now - self._writer_progress_at
        if waiting and idle > self._writer_stall_after:
            return _Finding(
                problem=f"no batch flushed for {idle:.0f} s while {waiting} keys wait "
                f"(last error: {status.last_error})"
            )
        return _Finding()

    def _check_backend(self) -> tuple[bool, str | None]:
        try:
            self._backend.ping()
        except BackendError as e:
            return False, f"ping failed: {type(e).__name__}: {e}"
        return True, None

    def _publish(self, checks: dict[str, str | None], *, backend_up: bool, alive: bool) -> None:
        with self._lock:
            before = self._checks
            self._checks = dict(checks)
            self._backend_up = backend_up
            self._alive = alive
        for component, problem in checks.items():
            old = before.get(component)
            if problem is not None and problem != old:
                log.warning("health: %s: %s", component, problem)
            elif problem is None and old is not None:
                log.info("health: %s: healthy again", component)


def watch_stall_after(watch_timeout_max: float, interval: float) -> float:
    """Seconds of silence after which a watch counts as stalled: the longest watch a reflector
    asks for (the server sends a bookmark shortly before it ends), plus one health interval and
    a minute of slack for a busy server."""
    if not math.isfinite(watch_timeout_max) or watch_timeout_max <= 0:
        raise ValueError("health: watch_timeout_max must be a positive number of seconds")
    return watch_timeout_max + interval + 60.0
