"""Backends and documents for tests: real SQLite files, mongomock, a real MongoDB when configured.

Documents are built the way the daemon builds them: a raw Kubernetes object goes through the
registry's transform into a real ``Store`` and out through the writer's ``build_upsert``.

mongomock 4.3 predates two things pymongo 4.20 does, so :func:`patch_mongomock` adapts the fake
(never our code): pymongo's ``ReplaceOne`` now passes ``sort=`` to the bulk builder, and a real
server decodes the ``RawBSONDocument`` it receives while mongomock would store it undecoded.

mongomock is also not thread-safe, where a server and pymongo's client are: a replace rewrites the
stored document in place while a find on another thread may be copying it ("OrderedDict mutated
during iteration"). The daemon's writer threads and the API read one client at once, so the patch
also makes each collection operation atomic under one lock, as a server applies it.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import bson
import mongomock
import pymongo
import pytest
from bson.raw_bson import RawBSONDocument
from mongomock.collection import BulkOperationBuilder, Collection, Cursor

from informer_mirror.backends import (
    ApplyResult,
    Backend,
    Delete,
    FieldComparison,
    GroupCount,
    QueryResult,
    SqliteBackend,
    Upsert,
)
from informer_mirror.backends.mongo import MongoBackend
from informer_mirror.informer.store import Store
from informer_mirror.registry import ResourceSpec, build_registry
from informer_mirror.selectors import LabelRequirement
from informer_mirror.settings import ClusterSettings, Settings
from informer_mirror.writer.documents import MirrorStamp, build_upsert, document_format

CLUSTER = "test-cluster"
REGISTRY = build_registry(Settings(cluster=ClusterSettings(name=CLUSTER)))
MONGO_URI_ENV = "INFORMER_MIRROR_TEST_MONGO_URI"
"""Set it to a MongoDB URI to run the MongoDB tests against a real server too."""


def real_mongo_uri() -> str | None:
    """The URI of a real MongoDB for tests, if the environment names one."""
    return os.environ.get(MONGO_URI_ENV) or None


def k8s_object(
    name: str,
    namespace: str | None = "default",
    *,
    uid: str | None = None,
    rv: str = "1",
    labels: dict[str, str] | None = None,
    created: str = "2026-01-01T00:00:00Z",
    **body: Any,
) -> dict[str, Any]:
    """A raw object as the API returns it (metadata set by the server included)."""
    metadata: dict[str, Any] = {
        "name": name,
        "uid": uid or f"uid-{namespace}-{name}",
        "resourceVersion": rv,
        "creationTimestamp": created,
        "labels": dict(labels or {}),
    }
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"metadata": metadata, **body}


def pod(
    name: str,
    namespace: str = "default",
    *,
    phase: str = "Running",
    node: str = "node-1",
    **kw: Any,
) -> dict[str, Any]:
    """A raw Pod with a phase and a node."""
    return k8s_object(
        name,
        namespace,
        spec={"nodeName": node, "containers": [{"name": "main", "image": "nginx:1.27"}]},
        status={"phase": phase},
        **kw,
    )


def store_of(resource: str, objects: Iterable[dict[str, Any]]) -> Store:
    """A Store of ``resource`` with the registry's transform, holding ``objects``."""
    store = Store(name=resource, transform=REGISTRY.transform_for(resource))
    for obj in objects:
        store.update(obj)
    return store


def upserts(resource: str, objects: Iterable[dict[str, Any]]) -> list[Upsert]:
    """The upserts the writer would send for ``objects`` of ``resource``."""
    spec = REGISTRY[resource]
    stamp = MirrorStamp.make(cluster=CLUSTER, wall_seconds=1.8e9, format=document_format(spec))
    return [build_upsert(record, stamp) for record in store_of(resource, objects).list_stored()]


def sqlite_backend(path: Path, **kw: Any) -> SqliteBackend:
    """A SQLite backend on a real file."""
    return SqliteBackend(path, cluster=CLUSTER, **kw)


def patch_mongomock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make mongomock accept what pymongo 4.20 hands it (see the module docstring)."""
    original = BulkOperationBuilder.add_replace

    def add_replace(
        self: Any,
        selector: Any,
        doc: Any,
        upsert: Any,
        collation: Any = None,
        hint: Any = None,
        sort: Any = None,
    ) -> Any:
        if isinstance(doc, RawBSONDocument):
            doc = bson.decode(doc.raw)
        return original(self, selector, doc, upsert, collation=collation, hint=hint)

    monkeypatch.setattr(BulkOperationBuilder, "add_replace", add_replace)
    for cls, names in _ATOMIC.items():
        for name in names:
            monkeypatch.setattr(cls, name, _atomic(getattr(cls, name)))


_MONGOMOCK_LOCK = threading.RLock()
"""One lock for every mongomock operation in the process (an RLock: a bulk write calls the
single-document operations, an aggregate calls find)."""

_ATOMIC: dict[type, tuple[str, ...]] = {
    Collection: (
        "_insert",
        "_update",
        "_delete",
        "_find_and_modify",
        "bulk_write",
        "count_documents",
        "estimated_document_count",
        "distinct",
        "aggregate",
        "create_index",
        "create_indexes",
        "drop",
    ),
    # A find is lazy: its documents are read when the cursor first computes its results.
    Cursor: ("_compute_results", "distinct"),
}
"""The mongomock methods that read or write stored documents, made atomic by patch_mongomock."""


def _atomic(method: Any) -> Any:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _MONGOMOCK_LOCK:
            return method(*args, **kwargs)

    return locked


def mongomock_backend(monkeypatch: pytest.MonkeyPatch, **kw: Any) -> MongoBackend:
    """A MongoDB backend on a fresh mongomock client."""
    patch_mongomock(monkeypatch)
    return MongoBackend(client=mongomock.MongoClient(), database="mirror", cluster=CLUSTER, **kw)


class RealMongo:
    """A throw-away database on the real server named by the environment."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.database = f"informer_mirror_test_{uuid.uuid4().hex[:12]}"

    def backend(self, **kw: Any) -> MongoBackend:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            self.uri, serverSelectionTimeoutMS=5000
        )
        return MongoBackend(client=client, database=self.database, cluster=CLUSTER, **kw)

    def drop(self) -> None:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            self.uri, serverSelectionTimeoutMS=5000
        )
        try:
            client.drop_database(self.database)
        finally:
            client.close()


class BackendProxy:
    """A real backend behind a seam (no patching): every call but ``kind``, ``describe`` and
    ``close`` first goes through :meth:`before` with its kind of operation (``schema``,
    ``write``, ``versions``, ``read``, ``ping``), which a test's fake overrides to fail or
    count."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    def before(self, operation: str) -> None:
        """Called before ``operation`` reaches the real backend; raise to make it fail."""

    @property
    def kind(self) -> str:
        return self.inner.kind

    def describe(self) -> str:
        return self.inner.describe()

    def ensure_schema(self, spec: ResourceSpec) -> None:
        self.before("schema")
        self.inner.ensure_schema(spec)

    def apply(
        self, spec: ResourceSpec, upserts: Sequence[Upsert], deletes: Sequence[Delete]
    ) -> ApplyResult:
        self.before("write")
        return self.inner.apply(spec, upserts, deletes)

    def versions(self, spec: ResourceSpec) -> dict[str, str]:
        self.before("versions")
        return self.inner.versions(spec)

    def query(
        self,
        spec: ResourceSpec,
        *,
        namespace: str | None = None,
        search: str | None = None,
        label_selector: str | Sequence[LabelRequirement] | None = None,
        page: int = 1,
        limit: int = 10,
        sort: str | None = None,
    ) -> QueryResult:
        self.before("read")
        return self.inner.query(
            spec,
            namespace=namespace,
            search=search,
            label_selector=label_selector,
            page=page,
            limit=limit,
            sort=sort,
        )

    def get(self, spec: ResourceSpec, uid: str) -> dict[str, Any] | None:
        self.before("read")
        return self.inner.get(spec, uid)

    def count(self, spec: ResourceSpec, *, namespace: str | None = None) -> int:
        self.before("read")
        return self.inner.count(spec, namespace=namespace)

    def counts(self) -> dict[str, int]:
        self.before("read")
        return self.inner.counts()

    def group_counts(
        self, spec: ResourceSpec, field: str | FieldComparison, *, namespace: str | None = None
    ) -> list[GroupCount]:
        self.before("read")
        return self.inner.group_counts(spec, field, namespace=namespace)

    def ping(self) -> None:
        self.before("ping")
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()
