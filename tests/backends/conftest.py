"""Fixtures: the same tests run on every backend: a SQLite file, mongomock, and a real MongoDB
when ``INFORMER_MIRROR_TEST_MONGO_URI`` names one (then each contract test runs a third time)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from informer_mirror.backends import Backend
from tests.backends.support import (
    REGISTRY,
    RealMongo,
    mongomock_backend,
    real_mongo_uri,
    sqlite_backend,
)

BackendFactory = Callable[..., Backend]


BACKEND_KINDS = ["sqlite", "mongomock"] + (["mongo"] if real_mongo_uri() else [])


@pytest.fixture(params=BACKEND_KINDS)
def make_backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BackendFactory]:
    """A factory of backends of one kind; every backend it made is closed afterwards."""
    made: list[Backend] = []
    real: RealMongo | None = None
    if request.param == "mongo":
        uri = real_mongo_uri()
        assert uri is not None
        real = RealMongo(uri)

    def factory(**kw: Any) -> Backend:
        backend: Backend
        if request.param == "sqlite":
            backend = sqlite_backend(tmp_path / "mirror.db", **kw)
        elif request.param == "mongomock":
            backend = mongomock_backend(monkeypatch, **kw)
        else:
            assert real is not None
            backend = real.backend(**kw)
        made.append(backend)
        return backend

    try:
        yield factory
    finally:
        for backend in made:
            backend.close()
        if real is not None:
            real.drop()


@pytest.fixture
def backend(make_backend: BackendFactory) -> Backend:
    """One backend with the pods, nodes and deployments schemas ensured."""
    b = make_backend()
    for name in ("pods", "nodes", "deployments"):
        b.ensure_schema(REGISTRY[name])
    return b
