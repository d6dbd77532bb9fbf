"""Fixtures of the writer tests: backends over persistent storage (a SQLite file, one mongomock
client) that can be opened again, as a restarted daemon would."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mongomock
import pytest

from informer_mirror.backends import Backend
from informer_mirror.backends.mongo import MongoBackend
from tests.backends.support import CLUSTER, patch_mongomock, sqlite_backend

OpenBackend = Callable[..., Backend]


@pytest.fixture(params=["sqlite", "mongomock"])
def open_backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OpenBackend]:
    """Opens a backend on the same storage each time it is called (a restart keeps the data)."""
    opened: list[Backend] = []
    client: Any = None
    if request.param == "mongomock":
        patch_mongomock(monkeypatch)
        client = mongomock.MongoClient()

    def open_one(**kw: Any) -> Backend:
        backend: Backend
        if client is None:
            backend = sqlite_backend(tmp_path / "mirror.db", **kw)
        else:
            backend = MongoBackend(client=client, database="mirror", cluster=CLUSTER, **kw)
        opened.append(backend)
        return backend

    yield open_one
    for backend in opened:
        backend.close()


@pytest.fixture(autouse=True)
def no_writer_thread_outlives_its_test() -> Iterator[None]:
    """Every test stops the writers it starts: a leftover thread would spin on a closed backend."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("writer-")]
    assert left == [], f"writer threads still running: {left}"
