"""The optional bearer token: everything but the probes needs it; /metrics as configured."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from informer_mirror.api import create_app, create_metrics_app
from informer_mirror.api.auth import token_matches
from informer_mirror.backends.sqlite import SqliteBackend
from informer_mirror.metrics import MirrorMetrics
from informer_mirror.registry import Registry
from informer_mirror.settings import ApiSettings
from tests.api.fakes import FakeStatus

TOKEN = "s3cr3t-token-with-enough-entropy"
GOOD = {"Authorization": f"Bearer {TOKEN}"}


def make_client(
    registry: Registry,
    backend: SqliteBackend,
    status: FakeStatus,
    metrics: MirrorMetrics,
    *,
    metrics_require_token: bool = False,
) -> FlaskClient:
    settings = ApiSettings(token=TOKEN, metrics_require_token=metrics_require_token)
    app = create_app(
        registry=registry, backend=backend, status=status, metrics=metrics, settings=settings
    )
    return app.test_client()


@pytest.fixture
def secured(
    registry: Registry, backend: SqliteBackend, status: FakeStatus, metrics: MirrorMetrics
) -> FlaskClient:
    return make_client(registry, backend, status, metrics)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/pods",
        "/api/v1/pods/pod-01",
        "/api/v1/namespaces/default/pods",
        "/api/v1/resources",
        "/api/v1/status",
        "/api/v1/health",
        "/api/v1/stats/overview",
        "/api/v1/openapi.json",
    ],
)
def test_every_api_endpoint_needs_the_token(secured: FlaskClient, url: str) -> None:
    response = secured.get(url)
    assert response.status_code == 401 and response.mimetype == "application/json"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="informer-mirror"'
    assert "missing bearer token" in response.get_json()["message"]
    assert secured.get(url, headers=GOOD).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        "Bearer",
        "Bearer ",
        TOKEN,
        "Bearer \u00e9t\u00e9",
    ],
)
def test_a_wrong_token_is_a_401_marked_invalid(secured: FlaskClient, header: str) -> None:
    response = secured.get("/api/v1/pods", headers={"Authorization": header})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert TOKEN not in response.get_data(as_text=True)


def test_the_scheme_is_case_insensitive(secured: FlaskClient) -> None:
    assert (
        secured.get("/api/v1/pods", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
    )


def test_the_probes_stay_open(secured: FlaskClient) -> None:
    for url in ("/healthz", "/readyz", "/healthz/", "/readyz?verbose"):
        assert secured.get(url).status_code == 200, url


def test_metrics_are_open_unless_configured_otherwise(
    secured: FlaskClient,
    registry: Registry,
    backend: SqliteBackend,
    status: FakeStatus,
    metrics: MirrorMetrics,
) -> None:
    assert secured.get("/metrics").status_code == 200
    closed = make_client(registry, backend, status, metrics, metrics_require_token=True)
    assert closed.get("/metrics").status_code == 401
    assert closed.get("/metrics", headers=GOOD).status_code == 200


def test_a_separate_metrics_app_needs_the_token_only_when_configured(
    metrics: MirrorMetrics,
) -> None:
    open_app = create_metrics_app(metrics=metrics, settings=ApiSettings(token=TOKEN))
    assert open_app.test_client().get("/metrics").status_code == 200
    closed_app = create_metrics_app(
        metrics=metrics, settings=ApiSettings(token=TOKEN, metrics_require_token=True)
    )
    client = closed_app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=GOOD).status_code == 200
    assert client.get("/api/v1/pods", headers=GOOD).status_code == 404


def test_the_openapi_document_declares_the_bearer_scheme(secured: FlaskClient) -> None:
    doc = secured.get("/api/v1/openapi.json", headers=GOOD).get_json()
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    assert doc["paths"]["/metrics"]["get"]["security"] == []


def test_a_401_is_counted_in_the_request_metrics(
    secured: FlaskClient, metrics: MirrorMetrics
) -> None:
    secured.get("/api/v1/pods")
    value = metrics.registry.get_sample_value(
        "informer_mirror_api_request_duration_seconds_count",
        {"endpoint": "/api/v1/pods", "status": "401"},
    )
    assert value == 1.0


def test_token_matching_is_exact() -> None:
    assert token_matches("abc", "Bearer abc")
    assert token_matches("abc", "  bearer   abc  ")
    assert not token_matches("abc", "Bearer abcd")
    assert not token_matches("abc", "Bearer ab")
    assert not token_matches("abc", None)
    assert not token_matches("abc", "")
    # WSGI decodes header bytes as latin-1: a UTF-8 token arrives as mojibake, and must match
    assert token_matches("\u00e9t\u00e9", "Bearer " + "\u00e9t\u00e9".encode().decode("latin-1"))
    assert not token_matches("\u00e9t\u00e9", "Bearer \u00e9t\u00e9")  # latin-1 bytes differ
