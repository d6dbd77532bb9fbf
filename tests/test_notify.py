"""sd_notify as systemd receives it: a real AF_UNIX datagram socket stands in for the manager."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from informer_mirror.notify import Notifier, socket_address, watchdog_ping_interval
from informer_mirror.settings import RuntimeEnvironment, parse_settings

MAX_UNIX_PATH = 100
"""sockaddr_un holds 108 bytes; leave room for the terminating NUL and then some."""


class Manager:
    """The receiving end of $NOTIFY_SOCKET, as systemd's manager holds it."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address

    def receive(self) -> bytes:
        return self.sock.recv(4096)

    def pending(self) -> list[bytes]:
        """Every datagram already queued, without waiting for more."""
        self.sock.setblocking(False)
        out: list[bytes] = []
        try:
            while True:
                out.append(self.sock.recv(4096))
        except BlockingIOError:
            return out
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(5.0)


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[Manager]:
    directory = tmp_path
    short: tempfile.TemporaryDirectory[str] | None = None
    if len(str(tmp_path / "notify")) > MAX_UNIX_PATH:  # a deep $TMPDIR: use a shorter place
        short = tempfile.TemporaryDirectory(prefix="imn-", dir="/tmp")
        directory = Path(short.name)
    path = str(directory / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5.0)  # a missing datagram fails the test instead of hanging it
    try:
        yield Manager(sock, path)
    finally:
        sock.close()
        if short is not None:
            short.cleanup()


def test_ready_status_watchdog_and_stopping_arrive_as_the_exact_datagrams_systemd_expects(
    manager: Manager,
) -> None:
    notifier = Notifier(manager.address)

    assert notifier.enabled
    assert notifier.status("syncing pods (3/20 resources synced)")
    assert manager.receive() == b"STATUS=syncing pods (3/20 resources synced)"
    assert notifier.ready()
    assert manager.receive() == b"READY=1"
    assert notifier.watchdog()
    assert manager.receive() == b"WATCHDOG=1"
    assert notifier.stopping()
    assert manager.receive() == b"STOPPING=1"


def test_ready_and_stopping_can_carry_a_status_line_in_the_same_datagram(
    manager: Manager,
) -> None:
    notifier = Notifier(manager.address)

    notifier.ready("mirroring 20 resources")
    assert manager.receive() == b"READY=1\nSTATUS=mirroring 20 resources"
    notifier.stopping("draining 12 queued writes")
    assert manager.receive() == b"STOPPING=1\nSTATUS=draining 12 queued writes"


def test_a_status_text_with_newlines_stays_one_field(manager: Manager) -> None:
    Notifier(manager.address).status("backend down:\nconnection refused")

    assert manager.receive() == b"STATUS=backend down: connection refused"


def test_extend_timeout_asks_for_the_time_in_microseconds(manager: Manager) -> None:
    Notifier(manager.address).extend_timeout(90)

    assert manager.receive() == b"EXTEND_TIMEOUT_USEC=90000000"


def test_a_socket_in_the_abstract_namespace_is_reached_through_its_at_sign_name() -> None:
    name = f"informer-mirror-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5.0)

        assert Notifier("@" + name).watchdog()
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_socket_addresses_are_paths_or_abstract_names_and_nothing_else() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@/org/freedesktop/systemd1/notify") == (
        "\0/org/freedesktop/systemd1/notify"
    )
    assert socket_address("@") is None
    assert socket_address("relative/notify") is None
    assert socket_address("vsock:2:1234") is None


def test_without_a_notify_socket_every_call_is_a_silent_no_op(
    caplog: pytest.LogCaptureFixture,
) -> None:
    notifier = Notifier(None)

    with caplog.at_level(logging.DEBUG, logger="informer_mirror.notify"):
        results = [
            notifier.ready("x"),
            notifier.status("x"),
            notifier.watchdog(),
            notifier.stopping(),
            notifier.extend_timeout(1),
        ]

    assert not notifier.enabled
    assert results == [False] * 5
    assert caplog.records == []


def test_a_socket_nobody_listens_on_is_warned_about_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(str(tmp_path / "gone"))

    with caplog.at_level(logging.DEBUG, logger="informer_mirror.notify"):
        results = [notifier.watchdog() for _ in range(3)]

    assert results == [False, False, False]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(tmp_path / "gone") in warnings[0].getMessage()
    assert [r.levelno for r in caplog.records].count(logging.DEBUG) == 2


def test_an_unsupported_socket_address_is_warned_about_and_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="informer_mirror.notify"):
        assert not Notifier("vsock:2:1234").ready()

    assert "vsock:2:1234" in caplog.text


def test_a_manager_that_stops_reading_does_not_block_the_caller_for_ever(
    manager: Manager, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(manager.address, timeout=0.01)

    # The receive queue of an AF_UNIX datagram socket is bounded (net.unix.max_dgram_qlen,
    # and the buffer size): once it is full a send would block; it must give up instead.
    with caplog.at_level(logging.WARNING, logger="informer_mirror.notify"):
        sent = 0
        while notifier.watchdog():
            sent += 1
            assert sent < 1_000_000, "the receive queue never filled"

    assert sent > 0
    assert "cannot notify systemd" in caplog.text
    assert manager.pending()[:1] == [b"WATCHDOG=1"]


def test_threads_may_share_one_notifier(manager: Manager) -> None:
    notifier = Notifier(manager.address)
    threads = [
        threading.Thread(target=notifier.status, args=(f"thread {n}",), name=f"notify-{n}")
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    received = sorted(manager.receive() for _ in threads)
    assert received == sorted(f"STATUS=thread {n}".encode() for n in range(8))


def test_the_watchdog_is_pinged_at_half_of_watchdog_usec() -> None:
    assert watchdog_ping_interval(RuntimeEnvironment(watchdog_interval=90.0)) == 45.0
    assert watchdog_ping_interval(RuntimeEnvironment()) is None


def test_the_notifier_and_watchdog_come_from_the_environment_systemd_sets(
    manager: Manager, tmp_path: Path
) -> None:
    env = {
        "NOTIFY_SOCKET": manager.address,
        "WATCHDOG_USEC": "90000000",
        "WATCHDOG_PID": str(os.getpid()),
    }
    runtime = parse_settings(None, env=env, base_dir=tmp_path).runtime

    assert Notifier.from_runtime(runtime).ready()
    assert manager.receive() == b"READY=1"
    assert watchdog_ping_interval(runtime) == 45.0


def test_a_watchdog_meant_for_another_process_is_not_ours_to_ping(tmp_path: Path) -> None:
    env = {"WATCHDOG_USEC": "90000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    runtime = parse_settings(None, env=env, base_dir=tmp_path).runtime

    assert watchdog_ping_interval(runtime) is None
    assert not Notifier.from_runtime(runtime).enabled


def test_odd_arguments_are_reported_not_raised(manager: Manager) -> None:
    notifier = Notifier(manager.address)

    assert not notifier.extend_timeout(float("nan"))
    assert not notifier.extend_timeout(-1)
    assert notifier.status("broken \udcff text")
    assert manager.receive() == b"STATUS=broken ? text"
