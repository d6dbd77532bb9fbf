"""sd_notify: telling systemd that the daemon is ready, alive, busy or stopping.

Place in the data flow: beside it, not in it. The composition root (``daemon.py``) sends
``READY=1`` once every informer has synced and the first full write is flushed, ``STATUS=`` lines
on the way there, and ``STOPPING=1`` on shutdown (main thread); the health monitor thread sends
``WATCHDOG=1`` every check while the daemon is healthy, at least every
:func:`watchdog_ping_interval` seconds. Owns nothing but the protocol: one datagram of
``KEY=VALUE`` lines per call to the AF_UNIX socket named by ``$NOTIFY_SOCKET``.

The protocol is a few lines, so it is spoken here without a dependency (no ``systemd-python``,
no ``sdnotify``). A ``$NOTIFY_SOCKET`` starting with ``@`` names a socket in Linux's abstract
namespace (``\\0`` on the wire), as systemd's own sd_notify() does. When the variable is unset
(the daemon was not started by systemd, or by a unit whose Type is not ``notify``) every call is
a no-op. A send that fails (no socket there, the manager gone, a full receive queue) is logged
once at WARNING and otherwise ignored: telling systemd is never a reason to stop mirroring, and
systemd's own timeouts are the safety net if it really never hears from us.

Safe to call from any thread: each message goes over its own short-lived socket (as sd_notify()
does), so threads share no socket state.
"""

from __future__ import annotations

import logging
import math
import socket
import threading

from informer_mirror.settings import RuntimeEnvironment

log = logging.getLogger(__name__)

SEND_TIMEOUT = 1.0
"""Seconds one send may block when the manager's receive queue is full, before it is dropped."""


def watchdog_ping_interval(runtime: RuntimeEnvironment) -> float | None:
    """Seconds between two ``WATCHDOG=1`` pings, or None when systemd watches no watchdog for us.

    Half of ``WatchdogSec=`` (``$WATCHDOG_USEC``), as ``sd_watchdog_enabled(3)`` recommends, so one
    late ping does not get the daemon killed. Whether ``$WATCHDOG_PID`` names this process (and
    not a parent that passed its environment on) is decided once by the settings loader, the only
    reader of the environment: ``runtime.watchdog_interval`` is None when it does not.
    """
    if runtime.watchdog_interval is None:
        return None
    return runtime.watchdog_interval / 2


def socket_address(notify_socket: str) -> str | None:
    """The ``AF_UNIX`` address for a ``$NOTIFY_SOCKET`` value, or None if it names none.

    An absolute path is used as is; ``@name`` is ``name`` in the abstract namespace. Anything
    else (a relative path, or systemd's ``vsock:`` form for virtual machines) is not supported.
    """
    if notify_socket.startswith("/"):
        return notify_socket
    if notify_socket.startswith("@") and len(notify_socket) > 1:
        return "\0" + notify_socket[1:]
    return None


class Notifier:
    """Sends sd_notify messages to one socket; a no-op when ``notify_socket`` is None.

    Every method returns True when the message was handed to the socket, False when there is no
    socket or the send failed. None of them raises.
    """

    def __init__(self, notify_socket: str | None, *, timeout: float = SEND_TIMEOUT) -> None:
        self._socket = notify_socket
        self._timeout = timeout
        self._warned = False
        self._warned_lock = threading.Lock()

    @classmethod
    def from_runtime(cls, runtime: RuntimeEnvironment) -> Notifier:
        """A notifier for the socket systemd named in the environment (``Settings.runtime``)."""
        return cls(runtime.notify_socket)

    @property
    def enabled(self) -> bool:
        """True when there is a socket to tell (the daemon runs under a Type=notify unit)."""
        return self._socket is not None

    def ready(self, status: str | None = None) -> bool:
        """Start-up is complete: systemd starts the units ordered after this one and the watchdog.
        ``status``, if given, travels in the same datagram."""
        return self.notify("READY=1", *self._status_lines(status))

    def status(self, text: str) -> bool:
        """A one-line description shown by ``systemctl status`` (``syncing pods 3/20``...)."""
        return self.notify(*self._status_lines(text))

    def watchdog(self) -> bool:
        """Still alive and healthy: resets the ``WatchdogSec=`` timer."""
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown has begun, so systemd shows ``deactivating`` rather than a failure."""
        return self.notify("STOPPING=1", *self._status_lines(status))

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for ``seconds`` more before the start (or stop) timeout fires: for a first sync of a
        large cluster that needs longer than ``TimeoutStartSec=``. systemd 236 and later."""
        if not math.isfinite(seconds) or seconds <= 0:
            return self._failed(f"EXTEND_TIMEOUT_USEC needs a positive time (got {seconds!r})")
        usec = max(1, round(seconds * 1_000_000))
        return self.notify(f"EXTEND_TIMEOUT_USEC={usec}")

    def notify(self, *lines: str) -> bool:
        """Send ``lines`` (``KEY=VALUE`` each) as one datagram."""
        if self._socket is None or not lines:
            return False
        address = socket_address(self._socket)
        if address is None:
            return self._failed("unsupported address (an absolute path or @abstract-name)")
        # "replace": a stray surrogate in a STATUS text must not turn into an exception here.
        payload = "\n".join(lines).encode("utf-8", errors="replace")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(self._timeout)
                sock.sendto(payload, address)
        except OSError as e:
            return self._failed(str(e))
        return True

    @staticmethod
    def _status_lines(text: str | None) -> tuple[str, ...]:
        if text is None:
            return ()
        # One datagram line per field: a newline inside the text would start a bogus field.
        return ("STATUS=" + " ".join(text.splitlines()),)

    def _failed(self, reason: str) -> bool:
        # WARNING once per notifier: the watchdog pings every few seconds and would flood the log.
        with self._warned_lock:
            first = not self._warned
            self._warned = True
        if first:
            log.warning(
                "cannot notify systemd at $NOTIFY_SOCKET=%s: %s (further failures logged at DEBUG)",
                self._socket,
                reason,
            )
        else:
            log.debug("cannot notify systemd at $NOTIFY_SOCKET=%s: %s", self._socket, reason)
        return False
