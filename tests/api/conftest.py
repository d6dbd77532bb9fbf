"""Fixtures of the API tests: the built-in registry, a real SQLite backend on a temporary file
filled with the standard test mirror, a fake StatusProvider, metrics on a fresh registry, the app
and its test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry

from informer_mirror.api import create_app
from informer_mirror.backends.sqlite import SqliteBackend
from informer_mirror.metrics import MirrorMetrics
from informer_mirror.registry import Registry, build_registry
from informer_mirror.settings import Settings
from tests.api.fakes import FakeStatus, populate

NOW = 100.0
"""The monotonic clock the tests' apps read (the fake states stamp times just before it)."""


@pytest.fixture(scope="session")
def registry() -> Registry:
    """Every built-in resource, as the default configuration selects them."""
    return build_registry(Settings())


@pytest.fixture
def backend(tmp_path: Path, registry: Registry) -> Iterator[SqliteBackend]:
    """A real SQLite mirror file with the standard documents (see ``fakes.populate``)."""
    backend = SqliteBackend(tmp_path / "mirror.db", cluster=registry.cluster)
    populate(backend, registry)
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def status(registry: Registry) -> FakeStatus:
    """Every informer synced, the writer flushed, the backend up."""
    return FakeStatus.all_synced(registry)


@pytest.fixture
def metrics() -> MirrorMetrics:
    """Metrics on a registry of their own."""
    return MirrorMetrics(CollectorRegistry())


@pytest.fixture
def app(
    registry: Registry, backend: SqliteBackend, status: FakeStatus, metrics: MirrorMetrics
) -> Flask:
    """The API over the test mirror, without a token."""
    return create_app(
        registry=registry, backend=backend, status=status, metrics=metrics, clock=lambda: NOW
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Flask's test client of :func:`app`."""
    return app.test_client()
