"""The app over real HTTP: waitress on port 0 in a named thread, started and stopped cleanly."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from informer_mirror.api import ApiServer, create_metrics_app
from informer_mirror.metrics import MirrorMetrics
from informer_mirror.settings import ApiSettings
from tests.helpers import wait_until


def server_threads() -> set[str]:
    return {
        t.name
        for t in threading.enumerate()
        if t.name in ("api", "metrics") or t.name.startswith("waitress-")
    }


def fetch(
    server: ApiServer, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.fixture
def served(app: Flask) -> Iterator[ApiServer]:
    assert server_threads() == set(), "a previous test leaked server threads"
    server = ApiServer(app, port=0)
    server.start()
    try:
        yield server
    finally:
        assert server.stop()
    assert server_threads() == set()


def test_the_api_answers_over_real_http_on_a_free_port(served: ApiServer) -> None:
    assert served.port != 0 and served.running
    status, headers, body = fetch(served, "/api/v1/pods?limit=2&sort=name")
    assert status == 200 and headers["Content-Type"] == "application/json"
    page: dict[str, Any] = json.loads(body)
    assert page["total"] == 35 and len(page["items"]) == 2
    status, _, body = fetch(served, "/api/v1/pods/pod-03")
    assert status == 200 and json.loads(body)["name"] == "web-03"


def test_the_server_runs_on_a_thread_named_api(served: ApiServer) -> None:
    fetch(served, "/healthz")
    names = server_threads()
    assert "api" in names and any(n.startswith("waitress-") for n in names)


def test_errors_over_http_are_json(served: ApiServer) -> None:
    status, headers, body = fetch(served, "/api/v1/pods?limit=0")
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["parameter"] == "limit"
    status, _, body = fetch(served, "/api/v1/nope")
    assert status == 404 and json.loads(body)["error"] == "Not Found"


def test_a_huge_url_is_refused_by_the_server_not_a_500(served: ApiServer) -> None:
    status, _, _ = fetch(served, "/api/v1/pods?search=" + "x" * 100_000)
    assert status == 431  # waitress: request header fields too large
    status, _, body = fetch(served, "/api/v1/pods?search=" + "x" * 10_000)
    assert status == 400 and json.loads(body)["parameter"] == "search"


def test_it_binds_loopback_by_default(app: Flask) -> None:
    server = ApiServer(app, port=0)
    assert server.host == "127.0.0.1"
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            pass
    finally:
        assert server.stop()


def test_stop_closes_idle_keep_alive_connections_and_joins_every_thread(app: Flask) -> None:
    server = ApiServer(app, port=0, threads=2)
    server.start()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request("GET", "/api/v1/pods")
    response = conn.getresponse()
    response.read()
    assert response.status == 200  # the connection stays open (HTTP/1.1 keep-alive)
    assert server.stop(timeout=5)
    assert not server.running and server.worker_threads_alive() == 0
    assert server_threads() == set()
    conn.close()


def test_a_port_in_use_fails_the_start_at_once(app: Flask) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = ApiServer(app, port=taken.getsockname()[1])
        with pytest.raises(OSError):
            server.start()
    assert server_threads() == set()


def test_stop_before_start_is_a_no_op(app: Flask) -> None:
    assert ApiServer(app).stop()


def test_metrics_can_have_their_own_port_and_thread(metrics: MirrorMetrics) -> None:
    server = ApiServer(create_metrics_app(metrics=metrics), port=0, name="metrics")
    server.start()
    try:
        wait_until(lambda: "metrics" in server_threads())
        status, headers, body = fetch(server, "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        assert b"informer_mirror_build_info" in body
        status, _, _ = fetch(server, "/api/v1/pods")
        assert status == 404
    finally:
        assert server.stop()
    assert server_threads() == set()


def test_scraping_with_openmetrics_accept_gets_openmetrics(served: ApiServer) -> None:
    status, headers, body = fetch(
        served, "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_servers_are_built_from_the_api_settings(app: Flask, metrics: MirrorMetrics) -> None:
    api = ApiSettings(host="127.0.0.1", port=0, metrics_port=0)
    server = ApiServer.from_settings(app, api)
    assert (server.name, server.host, server.port) == ("api", "127.0.0.1", 0)
    metrics_server = ApiServer.from_settings(
        create_metrics_app(metrics=metrics), api, metrics_only=True
    )
    assert metrics_server.name == "metrics"
    with pytest.raises(ValueError, match="metrics_port"):
        ApiServer.from_settings(app, ApiSettings(), metrics_only=True)
