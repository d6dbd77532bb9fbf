"""ApiServer: the Flask app served by waitress on a named thread, started and stopped cleanly.

Place in the data flow: the outer edge. The daemon builds the app (``create_app``), wraps it in an
``ApiServer`` and calls :meth:`ApiServer.start` (main thread); waitress's event loop then runs on
the thread named ``api`` (or the given name, e.g. ``metrics`` for ``api.metrics_port``) and hands
requests to its own worker threads (``waitress-N``), which run the Flask views. :meth:`stop` (any
thread) asks the loop to close every socket from inside the loop thread (waitress's trigger pipe:
closing sockets under a running ``select`` from another thread is a race), joins the loop thread,
then joins the workers. Never Flask's development server.

Owns the listening socket. It binds in :meth:`start` (to the first address ``host`` resolves to),
so a port in use fails the start at once (``OSError``, no thread left behind) and :attr:`port` is
the real port when 0 was asked for.
"""

from __future__ import annotations

import functools
import logging
import math
import socket
import threading
from typing import Any

from waitress import wasyncore
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server
from waitress.trigger import trigger as Trigger

from informer_mirror.settings import ApiSettings

log = logging.getLogger(__name__)

DEFAULT_THREADS = 8
"""Waitress worker threads: requests are short backend reads, a few in parallel is plenty."""
MAX_REQUEST_HEADER_SIZE = 64 * 1024
"""Bytes of request line + headers accepted; a longer URL gets waitress's 431, never reaches
Flask. Far above any legitimate query (every parameter is capped well below it)."""


class ApiServer:
    """One waitress server for one WSGI app, on one named thread."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        name: str = "api",
        threads: int = DEFAULT_THREADS,
        channel_timeout: float = 60.0,
    ) -> None:
        """``app``: any WSGI callable (the Flask app). ``host`` defaults to loopback only."""
        self.name = name
        self._app = app
        self._host = host
        self._requested_port = port
        self._threads = threads
        self._channel_timeout = channel_timeout
        self._server: BaseWSGIServer | MultiSocketServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @classmethod
    def from_settings(cls, app: Any, api: ApiSettings, *, metrics_only: bool = False) -> ApiServer:
        """The server ``api:`` configures: the API on ``api.port`` (thread ``api``), or with
        ``metrics_only`` the ``create_metrics_app`` on ``api.metrics_port`` (thread ``metrics``)."""
        if metrics_only:
            if api.metrics_port is None:
                raise ValueError("api.metrics_port is not set: /metrics is served on api.port")
            return cls(app, host=api.host, port=api.metrics_port, name="metrics")
        return cls(app, host=api.host, port=api.port, name="api")

    @property
    def host(self) -> str:
        """The address bound (as configured)."""
        return self._host

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0); the requested one before start."""
        server = self._server
        if isinstance(server, MultiSocketServer) and server.effective_listen:
            return int(server.effective_listen[0][1])
        port = getattr(server, "effective_port", None)  # TcpWSGIServer's, once bound
        return int(port) if port is not None else self._requested_port

    @property
    def url(self) -> str:
        """``http://host:port`` of the bound server."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Bind and start serving on the ``name`` thread. Raises OSError if it cannot bind."""
        if self._server is not None:
            raise RuntimeError(f"{self.name}: server already started")
        # Bind here rather than in waitress: create_server starts its worker threads before it
        # binds, and would leave them running when the port is taken.
        sock = _bind(self._host, self._requested_port)
        try:
            self._server = create_server(
                self._app,
                sockets=[sock],
                threads=self._threads,
                channel_timeout=self._channel_timeout,
                max_request_header_size=MAX_REQUEST_HEADER_SIZE,
                ident="informer-mirror",
                expose_tracebacks=False,
                clear_untrusted_proxy_headers=True,
            )
        except BaseException:
            sock.close()
            raise
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        log.info("%s: serving on %s", self.name, self.url)

    def _run(self) -> None:
        server = self._server
        assert server is not None
        try:
            server.run()
        except Exception:  # the thread's top level: a crashed loop must be logged, not lost
            log.exception("%s: server loop failed", self.name)
        finally:
            self._stopped.set()

    def stop(self, timeout: float = 5.0) -> bool:
        """Close the sockets, join the loop thread and the worker threads; True if all ended
        within ``timeout`` seconds. Requests in progress get up to ``timeout`` to finish."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return True
        loop_map: dict[int, Any] = getattr(server, "_map", None) or getattr(server, "map", {})
        # every listening server of the loop has a trigger in the loop's map; one is enough
        trigger = next((d for d in loop_map.values() if isinstance(d, Trigger)), None)
        if trigger is not None and thread.is_alive():
            # runs inside the loop thread: the loop then sees an empty map and returns
            trigger.pull_trigger(functools.partial(_close_all, loop_map))
        thread.join(timeout)
        loop_ended = not thread.is_alive()
        if not loop_ended:
            log.warning("%s: server loop did not end within %.1f s", self.name, timeout)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=math.ceil(timeout))
        log.info("%s: stopped", self.name)
        return loop_ended and self.worker_threads_alive() == 0

    def worker_threads_alive(self) -> int:
        """Waitress worker threads of this server still running."""
        server = self._server
        if server is None:
            return 0
        return len(server.task_dispatcher.threads)


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to the first address ``host`` resolves to (an IP address by default)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _close_all(loop_map: dict[int, Any], *_: object) -> None:
    """Close every socket of the loop (a trigger thunk: runs on the loop thread)."""
    wasyncore.close_all(loop_map, ignore_all=True)
