"""Bad input at each of the daemon's three doors, and what must happen.

* Configuration (``informer-mirror check-config``): unknown keys, wrong types, an unreadable or
  non-YAML file, a MongoDB URI without a host -> exit 2 and one message naming the field path.
* Data from the Kubernetes API: a tiny raw HTTP server (``HostileApiServer``; the sim only speaks
  well-formed JSON) serves a list and then a watch stream with non-JSON lines, objects without
  metadata or uid, fields of the wrong type, a 1.5 MB object and unknown event types among good
  events -> the informer logs and counts each bad line, keeps the watch, and loses no good event.
* REST parameters over real HTTP (waitress, the production server): what ``tests/api`` does not
  already cover through Flask's test client: very long URLs and query strings, undecodable and
  unicode path segments, huge but well-formed numbers, metacharacters in selector values ->
  a JSON 400/404 (or 200 where the request is merely odd), never a 500 or a non-JSON answer.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from informer_mirror.api import ApiServer
from informer_mirror.cli import EXIT_USAGE, main
from informer_mirror.informer.informer import Informer
from informer_mirror.kinds import BUILTIN_BY_PLURAL
from informer_mirror.kube import ApiResource, KubeClient, KubeListerWatcher
from informer_mirror.sim.kubeconfig import write_kubeconfig
from tests.api.conftest import app, backend, metrics, registry, status  # noqa: F401
from tests.helpers import wait_until

# ---- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("bogus_section: {a: 1}\n", "bogus_section"),
        ("writer: {batch_sise: 5}\n", "writer.batch_sise"),
        ("writer: {batch_size: many}\n", "writer.batch_size"),
        ("writer: {batch_size: [1, 2]}\n", "writer.batch_size"),
        ("writer: {flush_interval: -1}\n", "writer.flush_interval"),
        ("writer: {drain_timeout: .nan}\n", "writer.drain_timeout"),
        ("writer: 12\n", "writer"),
        ("resources: [pods]\n", "resources"),
        ("resources: {include: pods}\n", "resources.include"),
        ("resources: {include: [no-such-kind]}\n", "resources.include[0]"),
        ("api: {port: 70000}\n", "api.port"),
        ("api: {port: true}\n", "api.port"),
        ("backend: {kind: mongo, uri: 'mongodb://'}\n", "backend.uri"),
        ("backend: {kind: mongo, uri: 'mongodb:///mirror'}\n", "backend.uri"),
        ("backend: {kind: mongo, uri: 'http://db.example:27017'}\n", "backend.uri"),
        ("backend: {kind: sqlite, path: 5}\n", "backend.path"),
        ("logging: {level: loud}\n", "logging.level"),
    ],
)
def test_a_hostile_configuration_exits_2_naming_the_field_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, path: str
) -> None:
    config = tmp_path / "mirror.yaml"
    config.write_text(text, encoding="utf-8")
    assert main(["check-config", "--config", str(config)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{path}:" in err or f"{path} " in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe not utf-8 \x00\x81",
        b"writer: {batch_size: 5\n",  # unclosed flow mapping
        b"- just\n- a list\n",
        b"key: value\nkey: twice\n",
        b"a: &x [*x]\n",  # an alias loop
    ],
)
def test_a_file_that_is_not_a_yaml_mapping_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    config = tmp_path / "broken.yaml"
    config.write_bytes(content)
    assert main(["check-config", "--config", str(config)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "broken.yaml" in err or "config" in err, err
    assert "Traceback" not in err


def test_an_unreadable_configuration_path_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "a-directory.yaml"
    directory.mkdir()
    assert main(["check-config", "--config", str(directory)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "a-directory.yaml" in err and "Traceback" not in err


# ---- data from the Kubernetes API -------------------------------------------------------------


def pod(name: str, rv: int, uid: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": uid or f"uid-{name}",
            "resourceVersion": str(rv),
            **extra,
        },
        "spec": {"containers": [{"name": "main", "image": "nginx"}]},
        "status": {"phase": "Running"},
    }


def line(obj: Any) -> bytes:
    return json.dumps(obj).encode()


BIG_NOTE = "x" * 1_500_000

WATCH_SCRIPT: list[tuple[str, bytes]] = [
    ("good", line({"type": "ADDED", "object": pod("pod-c", 11)})),
    ("bad", b"this is not JSON {"),
    ("bad", b'{"type": "ADDED", "object": {"kind": "Pod"'),  # truncated
    ("bad", line({"type": "ADDED", "object": {"kind": "Pod", "apiVersion": "v1"}})),
    (
        "bad",
        line(
            {
                "type": "ADDED",
                "object": {
                    "metadata": {"name": "no-uid", "namespace": "default", "resourceVersion": "12"}
                },
            }
        ),
    ),
    (
        "bad",
        line(
            {
                "type": "ADDED",
                "object": pod("int-rv", 0)
                | {"metadata": {"name": "int-rv", "uid": "u", "resourceVersion": 13}},
            }
        ),
    ),
    ("bad", line({"type": "ADDED", "object": "a string"})),
    ("bad", line([1, 2, 3])),
    ("bad", line({"type": "EXPLODED", "object": pod("pod-x", 14)})),
    ("bad", line({"type": "ADDED", "object": pod("cm", 15) | {"kind": "ConfigMap"}})),
    (
        "bad",
        line(
            {
                "type": "ADDED",
                "object": pod("wrong", 16)
                | {"metadata": {"name": 42, "uid": "u42", "resourceVersion": "16"}},
            }
        ),
    ),
    ("good", line({"type": "ADDED", "object": pod("big", 17, annotations={"note": BIG_NOTE})})),
    ("odd", line({"type": "ADDED", "object": pod("odd-types", 18, labels="not-a-map")})),
    ("good", line({"type": "MODIFIED", "object": pod("pod-a", 19, labels={"v": "2"})})),
    ("good", line({"type": "DELETED", "object": pod("pod-b", 20)})),
    ("good", line({"type": "ADDED", "object": pod("pod-d", 21)})),
]
"""The watch stream after the list (RV 10): good events around every kind of bad line."""


class HostileApiServer:
    """Serves ``GET /api/v1/pods`` (a list at RV 10 of pod-a and pod-b) and its watch (the
    script, then the stream stays open until the server stops). Anything else is 404."""

    def __init__(self) -> None:
        self.watches = 0
        self.lists = 0
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                if url.path != "/api/v1/pods":
                    self._json(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
                elif query.get("watch") in (["1"], ["true"]):
                    outer.watches += 1
                    self._stream(int(query.get("resourceVersion", ["0"])[0] or 0))
                else:
                    outer.lists += 1
                    items = [pod("pod-a", 5), pod("pod-b", 6)]
                    self._json(
                        200,
                        {
                            "kind": "PodList",
                            "apiVersion": "v1",
                            "metadata": {"resourceVersion": "10"},
                            "items": items,
                        },
                    )

            def _json(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, since: int) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if since < 21:  # a re-watch after the last good RV gets nothing again
                    for _, payload in WATCH_SCRIPT:
                        self._chunk(payload + b"\n")
                outer.stop.wait(30)
                self._chunk(b"")

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="hostile-api")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> HostileApiServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[tuple[HostileApiServer, Path]]:
    with HostileApiServer() as server:
        yield server, write_kubeconfig(tmp_path / "kubeconfig", server.url)


def test_malformed_watch_lines_are_logged_counted_and_skipped_and_no_good_event_is_lost(
    hostile: tuple[HostileApiServer, Path], caplog: pytest.LogCaptureFixture
) -> None:
    from informer_mirror.registry import build_registry  # noqa: PLC0415
    from informer_mirror.settings import Settings  # noqa: PLC0415

    server, kubeconfig = hostile
    pod_registry = build_registry(Settings())
    client = KubeClient.from_kubeconfig(kubeconfig)
    informer = Informer(
        name="pods",
        lister_watcher=KubeListerWatcher(client, ApiResource.from_kind(BUILTIN_BY_PLURAL["pods"])),
        transform=pod_registry.transform_for("pods"),
        resource_version="",
    )
    caplog.set_level(logging.WARNING)
    try:
        informer.start()
        assert informer.wait_for_sync(10)
        wait_until(lambda: informer.store.get_stored("default/pod-d") is not None, timeout=10)
        keys = sorted(r.key for r in informer.store.list_stored())
        bad = sum(1 for kind, _ in WATCH_SCRIPT if kind == "bad")
        state = informer.state()
        assert state.malformed_events + state.dropped_events >= bad, state
    finally:
        informer.stop()
        informer.join(10)
        client.close()
    # Every good event applied, in order: pod-a updated, pod-b deleted, pod-c, big, pod-d added.
    assert {"default/pod-a", "default/pod-c", "default/big", "default/pod-d"} <= set(keys)
    assert "default/pod-b" not in keys
    assert not {"default/no-uid", "default/pod-x", "default/cm", "default/int-rv"} & set(keys)
    # One watch did it all: a bad line is skipped, not a reason to drop the stream and relist.
    assert server.lists == 1 and server.watches == 1
    messages = [r.getMessage() for r in caplog.records if "reflector/pods" in r.getMessage()]
    assert len(messages) >= bad
    assert all(len(m) < 2_000 for m in messages), "a log line carries a whole hostile object"


# ---- REST parameters over real HTTP -----------------------------------------------------------


@pytest.fixture
def server(app: Any) -> Iterator[ApiServer]:  # noqa: F811 - tests/api's fixture
    api = ApiServer(app, port=0)
    api.start()
    try:
        yield api
    finally:
        api.stop()


def raw_get(server: ApiServer, target: str) -> tuple[int, str, bytes]:
    """One GET of a raw request target (not re-encoded); status, content type, body."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "target",
    [
        "/api/v1/pods?search=" + "a" * 60_000,
        "/api/v1/pods?labelSelector=" + "app%3Dweb," * 3_000,
        "/api/v1/pods?" + "&".join(f"x{i}=1" for i in range(2_000)),
        "/api/v1/pods/" + "u" * 20_000,
        "/api/v1/" + "pods/" * 2_000,
        "/api/v1/pods?page=%zz",
        "/api/v1/pods?search=%ff%fe%00",
        "/api/v1/pods/%ff%fe",
        "/api/v1/pods/%00",
        "/api/v1/namespaces/%E2%80%AEdefault/pods",
        "/api/v1/namespaces/d%C3%A9faut/pods",
        "/api/v1/pods?page=1000000&limit=1000",
        "/api/v1/pods?limit=1&page=" + "9" * 400,
        "/api/v1/pods?page=-0",
        "/api/v1/pods?labelSelector=app%20in%20(.*%2C%5Ba-z%5D%2B)",
        "/api/v1/pods?labelSelector=app%3D%27%20OR%201%3D1%20--",
        "/api/v1/pods?labelSelector=%E2%9C%93%3Dyes",
        "/api/v1/pods?sort=name%00",
        "/api/v1/pods?search=%F0%9F%92%A5%E5%90%8D",
        "/api/v1/pods?search=%25%27%22%5C%2A%3F%5B%5D%28%29%7B%7D%5E%24%7C",
    ],
)
def test_a_hostile_request_gets_a_json_answer_and_never_a_500(
    server: ApiServer, target: str
) -> None:
    code, ctype, body = raw_get(server, target)
    assert code in (200, 400, 404), (code, body[:300])
    assert "json" in ctype, (code, ctype, body[:300])
    answer = json.loads(body)
    if code != 200:
        assert answer["status"] == code and answer["message"]


def test_metacharacters_in_search_match_literally_over_http(server: ApiServer) -> None:
    code, _, body = raw_get(server, "/api/v1/pods?search=%25%27%22%5C%2A%3F%5B%5D%5E%24%7C")
    assert code == 200 and json.loads(body)["items"] == []
    for needle, name in (("%25", "a%b-1"), ("_b", "a_b-2"), (".star", "dot.star-3")):
        code, _, body = raw_get(server, f"/api/v1/pods?search={needle}&limit=1000")
        assert code == 200
        assert [item["name"] for item in json.loads(body)["items"]] == [name], needle
