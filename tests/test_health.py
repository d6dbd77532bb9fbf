"""The health monitor: reflector, writer and backend checks, repairs, published verdicts and the
systemd watchdog, driven by an injected clock (no test sleeps). Reflectors, writer and backend
are fakes at the monitor's own Protocols; the watchdog goes over a real datagram socket."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pytest

from informer_mirror.errors import TransientBackendError
from informer_mirror.health import HealthMonitor, watch_stall_after
from informer_mirror.informer.reflector_types import Phase, ReflectorState
from informer_mirror.notify import Notifier
from informer_mirror.retry import CircuitSnapshot, CircuitState
from informer_mirror.settings import HealthSettings
from informer_mirror.writer import WriterStatus
from tests.api.fakes import reflector_state

STALL = 100.0


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeReflector:
    name: str
    phase: Phase = Phase.WATCHING
    last_event_at: float | None = None
    circuit: str = "closed"
    failures: int = 0
    last_error: str | None = None
    running: bool = True
    restarts: int = 0
    reconnects: int = 0

    def state(self) -> ReflectorState:
        return reflector_state(
            self.name,
            phase=self.phase,
            resource_version="42",
            last_error=self.last_error,
            failures=self.failures,
            circuit=self.circuit,
            last_event_at=self.last_event_at,
            events=0,
        )

    def alive(self) -> bool:
        return self.running

    def restart(self) -> bool:
        self.restarts += 1
        self.running = True
        return True

    def reconnect(self) -> bool:
        self.reconnects += 1
        return True


CLOSED = CircuitSnapshot(
    state=CircuitState.CLOSED,
    consecutive_failures=0,
    consecutive_opens=0,
    last_error=None,
    opened_at=None,
    next_attempt_at=None,
)


@dataclass
class FakeWriter:
    current: WriterStatus = field(
        default_factory=lambda: WriterStatus(
            running=True,
            workers=1,
            queue_depth=0,
            in_flight=0,
            last_flush_at=None,
            last_flush_age=None,
            batches=0,
            circuit="closed",
            circuit_detail=CLOSED,
            first_full_sync_flushed=True,
        )
    )

    def status(self) -> WriterStatus:
        return self.current


@dataclass
class FakeBackend:
    down: bool = False
    pings: int = 0

    def ping(self) -> None:
        self.pings += 1
        if self.down:
            raise TransientBackendError("sqlite: database is locked")


def monitor_for(
    reflectors: dict[str, list[FakeReflector]],
    *,
    clock: Clock,
    writer: FakeWriter | None = None,
    backend: FakeBackend | None = None,
    auto_reconnect: bool = True,
    notifier: Notifier | None = None,
) -> HealthMonitor:
    return HealthMonitor(
        reflectors=reflectors,
        writer=writer or FakeWriter(),
        backend=backend or FakeBackend(),
        settings=HealthSettings(interval=10, auto_reconnect=auto_reconnect),
        stall_after=STALL,
        writer_stall_after=60,
        notifier=notifier,
        watchdog_interval=5.0,
        clock=clock,
    )


@pytest.fixture
def systemd() -> Iterator[tuple[Notifier, list[str], socket.socket]]:
    """A Notifier whose datagrams land on a socket the test reads (abstract namespace)."""
    name = f"informer-mirror-health-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        listener.setblocking(False)
        yield Notifier(f"@{name}"), [], listener


def drain(listener: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(listener.recv(4096).decode())
        except BlockingIOError:
            return messages


def test_a_dead_reflector_is_restarted_and_the_round_counts_it_healthy() -> None:
    pods = FakeReflector("pods", running=False)
    monitor = monitor_for({"pods": [pods]}, clock=Clock())
    report = monitor.run_once()
    assert pods.restarts == 1
    assert report.restarted == ("pods",)
    assert report.alive is True
    assert monitor.checks() == {"reflector/pods": None, "writer": None, "backend": None}


def test_without_auto_reconnect_a_dead_reflector_is_reported_and_starves_the_watchdog(
    systemd: tuple[Notifier, list[str], socket.socket],
) -> None:
    notifier, _, listener = systemd
    pods = FakeReflector("pods", running=False)
    monitor = monitor_for({"pods": [pods]}, clock=Clock(), auto_reconnect=False, notifier=notifier)
    report = monitor.run_once()
    assert pods.restarts == 0
    assert report.alive is False
    assert monitor.checks()["reflector/pods"] == (
        "reflector thread not running (health.auto_reconnect is off)"
    )
    assert drain(listener) == []
    pods.running = True
    assert monitor.run_once().alive is True
    assert drain(listener) == ["WATCHDOG=1"]


def test_a_watch_silent_past_its_bookmark_deadline_is_cut_and_restarted_if_still_silent() -> None:
    clock = Clock()
    pods = FakeReflector("pods", last_event_at=clock.now)
    monitor = monitor_for({"pods": [pods]}, clock=clock)
    monitor.run_once()
    clock.now += STALL + 1
    assert monitor.run_once().reconnected == ("pods",)
    assert (pods.reconnects, pods.restarts) == (1, 0)
    clock.now += STALL / 2  # the repaired watch gets a fresh window
    monitor.run_once()
    assert (pods.reconnects, pods.restarts) == (1, 0)
    clock.now += STALL / 2 + 1
    assert monitor.run_once().restarted == ("pods",)
    assert (pods.reconnects, pods.restarts) == (1, 1)
    assert monitor.checks()["reflector/pods"] is None


def test_a_watch_that_keeps_receiving_bookmarks_is_left_alone() -> None:
    clock = Clock()
    pods = FakeReflector("pods", last_event_at=clock.now)
    monitor = monitor_for({"pods": [pods]}, clock=clock)
    for _ in range(5):
        clock.now += STALL * 0.9
        pods.last_event_at = clock.now - 1  # a bookmark just arrived
        report = monitor.run_once()
        assert report.reconnected == () and report.restarted == ()
    assert (pods.reconnects, pods.restarts) == (0, 0)


def test_silence_counts_from_when_the_watch_was_first_seen_not_from_an_old_event() -> None:
    clock = Clock()
    # Listing for a long time, its last event long ago: not stalled, it was not watching.
    pods = FakeReflector("pods", phase=Phase.LISTING, last_event_at=clock.now - 10 * STALL)
    monitor = monitor_for({"pods": [pods]}, clock=clock)
    monitor.run_once()
    pods.phase = Phase.WATCHING
    monitor.run_once()
    clock.now += STALL - 1
    assert monitor.run_once().reconnected == ()
    clock.now += 2
    assert monitor.run_once().reconnected == ("pods",)


def test_without_auto_reconnect_a_stalled_watch_is_reported_not_repaired() -> None:
    clock = Clock()
    pods = FakeReflector("pods", last_event_at=clock.now)
    monitor = monitor_for({"pods": [pods]}, clock=clock, auto_reconnect=False)
    monitor.run_once()
    clock.now += STALL + 1
    report = monitor.run_once()
    assert report.alive is False and pods.reconnects == 0
    problem = report.checks["reflector/pods"]
    assert problem is not None and problem.startswith("watch silent for 101 s")


def test_an_open_circuit_is_reported_and_left_to_the_breaker() -> None:
    pods = FakeReflector(
        "pods",
        phase=Phase.CIRCUIT_OPEN,
        circuit="open",
        failures=5,
        last_error="KubeForbidden: forbidden: cannot list pods",
    )
    monitor = monitor_for({"pods": [pods]}, clock=Clock())
    report = monitor.run_once()
    assert report.checks["reflector/pods"] == (
        "circuit open after 5 consecutive failures "
        "(last error: KubeForbidden: forbidden: cannot list pods)"
    )
    assert report.alive is True and pods.restarts == 0


def test_each_namespace_of_a_resource_is_checked_and_named_in_the_problem() -> None:
    a = FakeReflector("pods/team-a")
    b = FakeReflector("pods/team-b", circuit="open", failures=5, last_error="boom")
    monitor = monitor_for({"pods": [a, b]}, clock=Clock())
    problem = monitor.run_once().checks["reflector/pods"]
    assert problem == "pods/team-b: circuit open after 5 consecutive failures (last error: boom)"


def test_writer_threads_gone_are_fatal_and_a_writer_stuck_with_waiting_keys_is_reported() -> None:
    clock = Clock()
    writer = FakeWriter()
    monitor = monitor_for({}, clock=clock, writer=writer)
    writer.current = replace(writer.current, running=False)
    report = monitor.run_once()
    assert report.alive is False
    assert report.checks["writer"] == "writer threads are not running"

    writer.current = replace(writer.current, running=True, queue_depth=40, batches=3)
    assert monitor.run_once().checks["writer"] is None
    clock.now += 30
    writer.current = replace(writer.current, batches=4)  # progress
    assert monitor.run_once().checks["writer"] is None
    clock.now += 61  # no batch since
    report = monitor.run_once()
    assert report.checks["writer"] == (
        "no batch flushed for 61 s while 40 keys wait (last error: None)"
    )
    assert report.alive is True


def test_an_open_writer_circuit_is_reported_with_its_last_error() -> None:
    writer = FakeWriter()
    writer.current = replace(
        writer.current,
        circuit="open",
        circuit_detail=replace(CLOSED, state=CircuitState.OPEN, last_error="disk full"),
    )
    report = monitor_for({}, clock=Clock(), writer=writer).run_once()
    assert report.checks["writer"] == "circuit open (last error: disk full)"


def test_a_failed_backend_ping_is_published_as_down_until_it_answers_again() -> None:
    backend = FakeBackend(down=True)
    monitor = monitor_for({}, clock=Clock(), backend=backend)
    assert monitor.backend_up() is None and monitor.checks() == {}
    monitor.run_once()
    assert monitor.backend_up() is False
    assert monitor.checks()["backend"] == (
        "ping failed: TransientBackendError: sqlite: database is locked"
    )
    backend.down = False
    monitor.run_once()
    assert monitor.backend_up() is True and monitor.checks()["backend"] is None


def test_the_thread_checks_every_interval_and_pings_the_watchdog_in_between(
    systemd: tuple[Notifier, list[str], socket.socket],
) -> None:
    notifier, _, listener = systemd
    clock = Clock()
    backend = FakeBackend()
    waits: list[float] = []
    stop = threading.Event()

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        clock.now += seconds
        return len(waits) >= 7

    monitor = HealthMonitor(
        reflectors={},
        writer=FakeWriter(),
        backend=backend,
        settings=HealthSettings(interval=10),
        stall_after=STALL,
        notifier=notifier,
        watchdog_interval=4.0,
        stop=stop,
        clock=clock,
        wait=wait,
    )
    monitor.start()
    assert monitor.join(10)
    # Rounds at 0, 10 and 20 s; pings in between at most 4 s apart.
    assert waits == [4.0, 4.0, 2.0, 4.0, 4.0, 2.0, 4.0]
    assert backend.pings == 3
    assert drain(listener) == ["WATCHDOG=1"] * 7


def test_stall_after_allows_the_longest_watch_plus_an_interval_and_slack() -> None:
    assert watch_stall_after(600.0, 30.0) == 690.0
    with pytest.raises(ValueError, match="watch_timeout_max"):
        watch_stall_after(0.0, 30.0)
