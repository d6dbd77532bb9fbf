"""Every error class is JSON: 400, 404, 405, 503 (backend down) and 500 (without a stack trace)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from informer_mirror.api import create_app
from informer_mirror.backends.sqlite import SqliteBackend
from informer_mirror.errors import QueryError, TransientBackendError
from informer_mirror.registry import Registry
from tests.api.fakes import FailingBackend, FakeStatus

ERROR_KEYS = {"status", "error", "message"}


@pytest.fixture
def failing(backend: SqliteBackend) -> FailingBackend:
    return FailingBackend(backend)


@pytest.fixture
def failing_client(registry: Registry, failing: FailingBackend, status: FakeStatus) -> FlaskClient:
    app: Flask = create_app(registry=registry, backend=failing, status=status)
    return app.test_client()


def test_an_unknown_path_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/no-such-resource")
    assert response.status_code == 404 and response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == ERROR_KEYS and body["error"] == "Not Found"


def test_a_wrong_method_is_a_json_405_with_the_allowed_methods(client: FlaskClient) -> None:
    for method in ("post", "put", "delete", "patch"):
        response = getattr(client, method)("/api/v1/pods")
        assert response.status_code == 405
        assert response.mimetype == "application/json"
        assert "GET" in response.headers["Allow"]
        body = response.get_json()
        assert body["error"] == "Method Not Allowed"
        assert method.upper() in body["message"]


def test_a_doubled_slash_is_a_json_404_not_a_redirect(client: FlaskClient) -> None:
    for url in ("//api/v1/pods", "/api/v1//pods"):
        response = client.get(url)
        assert response.status_code == 404 and response.mimetype == "application/json"
        assert "Location" not in response.headers


def test_a_trailing_slash_is_tolerated(client: FlaskClient) -> None:
    assert client.get("/api/v1/pods/").get_json()["total"] == 35
    assert client.get("/api/v1/pods/pod-01/").get_json()["uid"] == "pod-01"


def test_head_of_a_list_is_allowed(client: FlaskClient) -> None:
    assert client.head("/api/v1/pods").status_code == 200


def test_an_unexpected_exception_is_a_json_500_without_a_stack_trace(
    failing_client: FlaskClient, failing: FailingBackend, caplog: pytest.LogCaptureFixture
) -> None:
    failing.error = RuntimeError("secret internals: /var/lib/informer-mirror/mirror.db")
    with caplog.at_level(logging.ERROR, logger="informer_mirror.api.errors"):
        response = failing_client.get("/api/v1/pods")
    assert response.status_code == 500 and response.mimetype == "application/json"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "secret internals" not in text
    assert "RuntimeError" not in text
    assert response.get_json()["error"] == "Internal Server Error"
    # the operator still gets everything, in the log
    assert any("secret internals" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_a_backend_outage_is_a_503_with_retry_after_not_a_500(
    failing_client: FlaskClient, failing: FailingBackend
) -> None:
    failing.error = TransientBackendError("sqlite: database is locked")
    for url in (
        "/api/v1/pods",
        "/api/v1/pods/pod-01",
        "/api/v1/resources",
        "/api/v1/stats/overview",
    ):
        response = failing_client.get(url)
        assert response.status_code == 503, url
        assert response.headers["Retry-After"] == "5"
        assert "locked" not in response.get_data(as_text=True)


def test_a_query_the_backend_refuses_is_a_400(
    failing_client: FlaskClient, failing: FailingBackend
) -> None:
    failing.error = QueryError("page: must be >= 1 (got 0)")
    response = failing_client.get("/api/v1/pods")
    assert response.status_code == 400
    assert response.get_json()["message"] == "page: must be >= 1 (got 0)"


def test_status_and_health_survive_a_backend_outage(
    failing_client: FlaskClient, failing: FailingBackend, status: FakeStatus
) -> None:
    failing.error = TransientBackendError("sqlite: disk I/O error")
    status.up = False
    body = failing_client.get("/api/v1/status").get_json()
    assert body["backend"]["up"] is False and body["status"] == "unhealthy"
    assert failing_client.get("/api/v1/health").status_code == 503
    assert failing_client.get("/readyz").status_code == 200


def test_create_app_refuses_to_serve_metrics_without_metrics(
    registry: Registry, backend: SqliteBackend, status: FakeStatus, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="serve_metrics"):
        create_app(registry=registry, backend=backend, status=status, serve_metrics=True)
