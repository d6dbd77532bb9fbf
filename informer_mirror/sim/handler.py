"""The request handler of the simulated API server: one HTTP/1.1 request at a time, per connection.

Place in the data flow: runs on the connection threads of ``sim/server.py``. For each request it
reads the body, answers ``/_sim/`` control requests (``sim/control.py``) directly, and otherwise:
injected delay, bearer-token auth (401), injected failures, 403 and 404 (``sim/faults.py``),
routing (``sim/routing.py``), then discovery (``sim/discovery.py``), single objects
(``sim/crud.py``), lists (``sim/listwatch.py``) or a watch streamed on this thread
(``sim/watchstream.py``); every outcome goes into the request log. Responses carry
``Content-Length`` (head and body parts written without joining them); watches use chunked
transfer. ``SimError`` becomes a ``Status`` object, anything else a 500 ``InternalError``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import select
import socket
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import orjson

from informer_mirror.sim import control, crud, discovery, listwatch, routing
from informer_mirror.sim.apierrors import SimError, SimExpired, SimTooLarge
from informer_mirror.sim.faults import RequestInfo
from informer_mirror.sim.watchstream import ChunkedWriter, StreamTiming, error_line, serve_watch

if TYPE_CHECKING:
    from informer_mirror.sim.server import SimServer, _HTTPServer

log = logging.getLogger(__name__)


class Handler(BaseHTTPRequestHandler):
    """Serves one connection's requests (see the module docstring)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer
    responded = False
    _log_handle: int | None = None

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("sim %s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # -- responses ---------------------------------------------------------------------------

    def _head(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        self.responded = True
        if self._log_handle is not None:
            # before the client can read its answer, so the log never lags behind it
            self.server.sim.faults.request_answered(self._log_handle, status)
            self._log_handle = None
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:  # an injected code Python has no name for
            phrase = "Unknown"
        lines = [f"HTTP/1.1 {status} {phrase}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines += [
            f"Audit-Id: {uuid.uuid4()}",
            "Cache-Control: no-cache, private",
            f"Date: {self.date_time_string()}",
        ]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send_body(
        self,
        status: int,
        parts: list[bytes],
        *,
        content_type: str = "application/json",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        """Send a complete response; ``parts`` are written in order without joining them."""
        length = sum(len(p) for p in parts)
        all_headers = [("Content-Type", content_type), ("Content-Length", str(length))]
        head = self._head(status, all_headers + (headers or []))
        if length < 65536:
            self.wfile.write(head + b"".join(parts))
        else:
            self.wfile.write(head)
            for part in parts:
                self.wfile.write(part)

    def send_json(self, status: int, obj: Any) -> None:
        """Send ``obj`` as JSON."""
        self.send_body(status, [orjson.dumps(obj)])

    def send_error_status(self, err: SimError) -> None:
        """Send ``err`` as a ``Status`` object (with ``Retry-After`` when it has one)."""
        headers = [("Retry-After", str(err.retry_after))] if err.retry_after is not None else []
        self.send_body(err.status, [orjson.dumps(err.to_status())], headers=headers)

    # -- dispatch ------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        sim = self.server.sim
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
            self.close_connection = True  # the body's end is unknown: do not reuse the stream
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path.rstrip("/") or "/"
        if path == "/_sim" or path.startswith("/_sim/"):
            control.handle(self, sim, method=method, path=path, query=query, raw_body=body)
            return
        self._log_handle = sim.faults.request_arrived(method=method, path=path, query=url.query)
        self.responded = False
        try:
            self._api(sim, method, path, query, body)
        except (BrokenPipeError, ConnectionError, TimeoutError):
            self.close_connection = True
        except SimError as err:
            self.send_error_status(err)
        except Exception:
            log.exception("simulated API server: %s %s failed", method, self.path)
            if self.responded:  # mid-response: all we can do is cut the connection
                self.close_connection = True
            else:
                self.send_error_status(SimError(500, "InternalError", "Internal error occurred"))
        finally:
            self._log_handle = None

    def _api(
        self, sim: SimServer, method: str, path: str, query: dict[str, str], body: bytes
    ) -> None:
        delay = sim.faults.delay()
        if delay > 0:
            sim.stop_event.wait(delay)
        token = sim.options.token
        if token is not None and self.headers.get("Authorization") != f"Bearer {token}":
            raise SimError(401, "Unauthorized", "Unauthorized", details=None)
        segments = [s for s in path.split("/") if s]
        route: routing.Route | None = None
        route_error: SimError | None = None
        is_resource = len(segments) >= 3 and (
            segments[0] == "api" or (segments[0] == "apis" and len(segments) >= 4)
        )
        if is_resource:
            try:
                route = routing.resolve(sim.state, method, segments, query)
            except SimError as e:
                route_error = e
        info = RequestInfo(
            method=method,
            path=path,
            verb=route.verb if route else "get",
            kind=route.kind if route else None,
            namespace=route.namespace if route else None,
            name=route.name if route else None,
        )
        injected = sim.faults.check(info)
        if injected is not None:
            raise injected
        if route_error is not None:
            raise route_error
        if route is None:
            self._non_resource(sim, method, segments)
        else:
            self._resource(sim, route, query, body)

    def _non_resource(self, sim: SimServer, method: str, segments: list[str]) -> None:
        if method != "GET":
            raise routing.method_not_allowed()
        kinds = [k for k in sim.state.kinds() if sim.faults.is_served(k)]
        doc: Any = None
        match segments:
            case ["version"]:
                doc = discovery.version_info()
            case ["api"]:
                doc = discovery.api_versions(f"{sim.host}:{sim.port}")
            case ["api", "v1"]:
                doc = discovery.resource_list("v1", kinds)
            case ["apis"]:
                doc = discovery.group_list(kinds)
            case ["apis", group]:
                doc = discovery.api_group(group, kinds)
            case ["apis", group, version]:
                if discovery.api_group(group, kinds) is not None:
                    listing = discovery.resource_list(f"{group}/{version}", kinds)
                    doc = listing if listing["resources"] else None
            case ["healthz"] | ["livez"] | ["readyz"]:
                self.send_body(200, [b"ok"], content_type="text/plain; charset=utf-8")
                return
        if doc is None:
            raise routing.not_found()
        self.send_json(200, doc)

    def _resource(
        self, sim: SimServer, route: routing.Route, query: dict[str, str], body: bytes
    ) -> None:
        if route.subresource is not None:
            raise routing.not_found()
        state = sim.state
        verb = route.verb
        if verb == "list":
            self.send_body(
                200, listwatch.list_response(state, route, query, sim.options.too_large_wait)
            )
            return
        if verb == "watch":
            self._watch(sim, route, query)
            return
        if verb == "get":
            self.send_body(200, [crud.get_response(state, route)])
            return
        if verb == "create" and route.name is None:
            self.send_body(201, [crud.create_response(state, route, body)])
            return
        if verb == "update":
            self.send_body(200, [crud.update_response(state, route, body)])
            return
        if verb == "delete":
            status, out = crud.delete_response(state, route)
            self.send_body(status, [out])
            return
        raise routing.method_not_allowed()

    # -- watch -------------------------------------------------------------------------------

    def _begin_stream(self) -> ChunkedWriter:
        head = self._head(
            200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
        )
        self.wfile.write(head)
        return ChunkedWriter(self.wfile.write)

    def _client_connected(self) -> bool:
        """False once the client has closed its end (EOF pending on the socket)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return not readable or self.connection.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            return False

    def _watch(self, sim: SimServer, route: routing.Route, query: dict[str, str]) -> None:
        plan = listwatch.plan_watch(route, query)
        state, options = sim.state, sim.options
        try:
            if plan.wait_for_rv is not None and plan.wait_for_rv > state.resource_version:
                state.wait_for_resource_version(plan.wait_for_rv, options.too_large_wait)
            watcher = state.watch(
                routing.resource_arg(route.kind),
                namespace=route.namespace,
                selector=plan.selector,
                since_rv=plan.since_rv,
                initial=plan.initial,
                stalled=sim.faults.stall_new_watches,
            )
        except (SimExpired, SimTooLarge) as err:
            # the real server reports these inside a 200 stream, as an ERROR event
            out = self._begin_stream()
            out.chunk(error_line(err.to_status()))
            out.end()
            return
        timeout = plan.timeout or options.min_request_timeout * (1 + random.random())  # noqa: S311
        sim.register_watcher(watcher)
        try:
            clean = serve_watch(
                watcher,
                begin=self._begin_stream,
                timing=StreamTiming(
                    timeout=timeout,
                    bookmarks=plan.bookmarks,
                    bookmark_interval=options.bookmark_interval,
                    bookmark_before_end=options.bookmark_before_end,
                ),
                initial_events_end=plan.initial_events_end,
                stop=sim.stop_event,
                client_connected=self._client_connected,
            )
        finally:
            watcher.unregister()
            sim.unregister_watcher(watcher)
        if not clean:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
