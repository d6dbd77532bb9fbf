"""A tiny HTTP/1.1 server that answers with scripted bytes, for protocol edge cases of kube/.

The simulated cluster speaks the API faithfully, which is exactly why it cannot produce some byte
sequences a client must survive: a JSON line split across three HTTP chunks, a garbage line, an
ERROR event inside a 200 stream, a stall after the headers. Each test scripts the responses; the
server records every request (path + query) it received.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import yaml


@dataclass
class Reply:
    """One scripted response: status, headers, and body pieces sent as separate HTTP chunks."""

    status: int = 200
    chunks: list[bytes] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = True
    hold: threading.Event | None = None
    """If set, the connection stays open (silent) after the chunks until this event is set."""
    end_cleanly: bool = True
    """Send the terminating zero-length chunk (False: just close the socket)."""


@dataclass
class Request:
    path: str
    query: dict[str, str]


class ScriptedServer:
    """Serve ``Reply`` objects in order (the last one repeats); record every request."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[Request] = []
        self.connections = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                with server._lock:
                    server.requests.append(Request(parts.path, dict(parse_qsl(parts.query))))
                    reply = server.replies.pop(0) if len(server.replies) > 1 else server.replies[0]
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(sum(map(len, reply.chunks))))
                self.end_headers()
                try:
                    for chunk in reply.chunks:
                        if reply.chunked:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        else:
                            self.wfile.write(chunk)
                        self.wfile.flush()
                    if reply.hold is not None:
                        reply.hold.wait(30)
                    if reply.chunked and reply.end_cleanly:
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                except OSError:
                    return
                if not reply.end_cleanly:
                    self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="scripted-http"
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def write_kubeconfig(path: Path, server: str, *, context: str = "test", token: str = "t0k") -> Path:
    """A minimal kubeconfig pointing at ``server`` with a bearer token."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
        "current-context": context,
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@contextmanager
def scripted_server(*replies: Reply) -> Iterator[ScriptedServer]:
    """Start a server answering ``replies`` in order; releases every held reply on exit."""
    server = ScriptedServer()
    script = list(replies or (Reply(),))
    server.replies.extend(script)
    server.start()
    try:
        yield server
    finally:
        for reply in script + server.replies:
            if reply.hold is not None:
                reply.hold.set()
        server.stop()
