"""The simulated Kubernetes API server's lifecycle: listening, connections, threads, restart.

Place in the data flow: the top of ``sim/``. :class:`SimServer` owns a stdlib
``ThreadingHTTPServer`` (thread ``sim-http`` accepts; one daemon thread ``sim-conn-N`` per
connection, HTTP/1.1 keep-alive) in front of a ``ClusterState`` and a ``FaultInjector``; each
connection thread runs ``sim/handler.py``'s request handler. It also tracks the open watch streams,
which fault injection drops, closes and stalls.

:meth:`SimServer.stop` ends everything it started: it stops accepting, drops every watch, shuts down
every connection socket and joins every thread, so tests can assert that no thread leaks.
:meth:`SimServer.restart` does the same but listens again on the same port with the same state.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import sys
import threading
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from informer_mirror.sim.faults import FaultInjector
from informer_mirror.sim.handler import Handler
from informer_mirror.sim.state import ClusterState
from informer_mirror.sim.watchers import Watcher

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimOptions:
    """Server behaviour; the defaults are the real apiserver's."""

    bookmark_interval: float = 60.0
    """Seconds between periodic watch BOOKMARK events."""
    bookmark_before_end: float = 2.0
    """Seconds before a watch's ``timeoutSeconds`` at which the last bookmark goes out."""
    too_large_wait: float = 3.0
    """Seconds a request for a future resourceVersion waits before 504 ResourceVersionTooLarge."""
    min_request_timeout: float = 1800.0
    """A watch without ``timeoutSeconds`` lasts this times U[1, 2) seconds."""
    token: str | None = None
    """When set, every API request needs ``Authorization: Bearer <token>`` (else 401)."""


class _HTTPServer(ThreadingHTTPServer):
    """Names, tracks and can forcibly end its connection threads."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: SimServer) -> None:
        self.sim = sim
        self._conn_lock = threading.Lock()
        self._conns: dict[threading.Thread, socket.socket] = {}
        self._ids = itertools.count(1)
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._run_connection,
            args=(request, client_address),
            name=f"sim-conn-{next(self._ids)}",
            daemon=True,
        )
        with self._conn_lock:
            self._conns[thread] = request
        thread.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints tracebacks to stderr; route them to logging instead, quietly for
        # the connection resets that dropped watches and departing clients cause by design
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            log.debug("sim connection from %s ended: %r", client_address, exc)
        else:
            log.error("sim connection from %s failed", client_address, exc_info=exc)

    def _run_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._conns.pop(threading.current_thread(), None)

    def close_connections(self, timeout: float = 5.0) -> None:
        """Shut down every connection socket and join its thread (except the caller's)."""
        with self._conn_lock:
            conns = list(self._conns.items())
        for _thread, sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread, _sock in conns:
            if thread is not threading.current_thread():
                thread.join(timeout)
                if thread.is_alive():
                    log.warning("sim connection thread %s did not end", thread.name)


class SimServer:
    """A running simulated API server. Use ``informer_mirror.sim.start_sim`` to create one."""

    def __init__(
        self,
        state: ClusterState,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        options: SimOptions | None = None,
        faults: FaultInjector | None = None,
    ) -> None:
        self.state = state
        self.options = options or SimOptions()
        self.faults = faults or FaultInjector(state)
        self.faults.attach(self)
        self.host = host
        self.port = port
        self.stop_event = threading.Event()
        self._lifecycle = threading.Lock()
        self._watch_lock = threading.Lock()
        self._watchers: set[Watcher] = set()
        self._httpd: _HTTPServer | None = None
        self._serve_thread: threading.Thread | None = None
        self._helpers: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bind and start serving (port 0 picks a free port; see :attr:`port`)."""
        with self._lifecycle:
            self._listen()

    def _listen(self) -> None:
        httpd = _HTTPServer((self.host, self.port), self)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._serve_thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="sim-http", daemon=True
        )
        self._serve_thread.start()
        log.info("simulated API server listening on %s", self.url)

    def _stop_accepting(self) -> None:
        """Close the listening socket (idempotent); open connections carry on."""
        if self._httpd is not None and self._serve_thread is not None:
            self._httpd.shutdown()
            self._serve_thread.join()
            self._httpd.server_close()

    def _unlisten(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        self._stop_accepting()
        for watcher in self.watchers():
            watcher.drop()
        httpd.close_connections()
        self._httpd = self._serve_thread = None

    def stop(self) -> None:
        """Stop serving: drop every watch and connection and join every thread."""
        self.stop_event.set()
        with self._lifecycle:
            self._unlisten()
        for helper in list(self._helpers):
            if helper is not threading.current_thread():
                helper.join()
        log.info("simulated API server on %s stopped", self.url)

    def restart(self, downtime: float = 0.0) -> None:
        """Stop listening and drop every connection; after ``downtime`` s listen on the same
        port again with the same state and faults."""
        with self._lifecycle:
            if self.stop_event.is_set():
                return
            log.info("simulated API server on %s restarting", self.url)
            self._unlisten()
            if downtime > 0 and self.stop_event.wait(downtime):
                return
            self._listen()

    def stop_accepting(self) -> None:
        """Close the listening socket now (open connections carry on): the first step of a
        restart requested over HTTP, taken before the request is answered, so that no client
        reaches the old server once it has its answer."""
        with self._lifecycle:
            self._stop_accepting()

    def restart_in_background(self, downtime: float) -> None:
        """Restart on thread ``sim-restart``: from a request thread, which the restart itself
        disconnects (joined by :meth:`stop`)."""
        thread = threading.Thread(target=self.restart, args=(downtime,), name="sim-restart")
        self._helpers = [t for t in self._helpers if t.is_alive()] + [thread]
        thread.start()

    # -- watch registry (fault injection acts on it) ---------------------------------------------

    def watchers(self) -> list[Watcher]:
        """Every watch stream open now."""
        with self._watch_lock:
            return list(self._watchers)

    def register_watcher(self, watcher: Watcher) -> None:
        """Track a watch stream that just opened (dropped at once if the server is stopping)."""
        with self._watch_lock:
            self._watchers.add(watcher)
        if self.stop_event.is_set() or self._httpd is None:
            watcher.drop()  # shutdown raced with this watch opening

    def unregister_watcher(self, watcher: Watcher) -> None:
        """Forget a watch stream that ended."""
        with self._watch_lock:
            self._watchers.discard(watcher)
