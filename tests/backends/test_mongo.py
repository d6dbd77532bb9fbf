"""The MongoDB backend's own promises: what a stored document looks like, clusters sharing one
database, partial bulk failures, write concern errors, an unreachable server.

Through mongomock, and through a fake collection at pymongo's ``bulk_write`` seam where a failure
mongomock cannot produce is needed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import mongomock
import pytest
from pymongo.errors import BulkWriteError

from informer_mirror.backends import Delete, open_backend
from informer_mirror.backends.mongo import MongoBackend
from informer_mirror.errors import TransientBackendError
from informer_mirror.settings import ClusterSettings, MongoBackendSettings, Settings
from tests.backends.support import (
    CLUSTER,
    REGISTRY,
    patch_mongomock,
    pod,
    upserts,
)

PODS = REGISTRY["pods"]


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> mongomock.MongoClient:
    patch_mongomock(monkeypatch)
    return mongomock.MongoClient()


@pytest.fixture
def backend(client: mongomock.MongoClient) -> Iterator[MongoBackend]:
    b = MongoBackend(client=client, database="mirror", cluster=CLUSTER)
    b.ensure_schema(PODS)
    yield b
    b.close()


def raw_pods(client: mongomock.MongoClient) -> Any:
    return client["mirror"]["pods"]


def test_the_patched_fake_reads_and_writes_from_several_threads_as_a_server_does(
    backend: MongoBackend,
) -> None:
    """The writer threads and the API share one client. Unpatched, mongomock rewrites a stored
    document in place while a find on another thread reads it: the find misses the document or
    raises (in most runs of this test; checked). This guards the fake the other tests rely on."""
    labels = {f"label-{i}": str(i) for i in range(100)}
    versions = [upserts("pods", [pod("a", rv=str(rv), labels=labels)]) for rv in range(1, 9)]
    backend.apply(PODS, versions[0], [])
    stop = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            while not stop.is_set():
                for batch in versions:
                    backend.apply(PODS, batch, [])
        except BaseException as e:  # handed to the test thread
            failures.append(e)

    writer = threading.Thread(target=write, name="test-writer")
    writer.start()
    try:
        seen = {backend.versions(PODS)["uid-default-a"] for _ in range(1500)}
    finally:
        stop.set()
        writer.join()
    assert failures == []
    assert seen <= {str(rv) for rv in range(1, 9)}


def test_a_stored_document_has_the_uid_as_id_and_its_labels_as_indexable_pairs(
    backend: MongoBackend, client: mongomock.MongoClient
) -> None:
    labels = {"app.kubernetes.io/name": "shop", "replicas": "3"}
    backend.apply(PODS, upserts("pods", [pod("a", labels=labels)]), [])
    (doc,) = list(raw_pods(client).find({}))
    assert doc["_id"] == "uid-default-a"
    assert doc["labels"] == labels
    assert doc["_labels"] == [
        {"k": "app.kubernetes.io/name", "v": "shop"},
        {"k": "replicas", "v": "3", "n": 3},
    ]
    assert doc["_mirror"]["cluster"] == CLUSTER
    served = backend.get(PODS, "uid-default-a")
    assert served is not None
    assert "_id" not in served
    assert "_labels" not in served


def test_every_index_is_led_by_the_cluster(
    backend: MongoBackend, client: mongomock.MongoClient
) -> None:
    info = raw_pods(client).index_information()
    ours = {name: spec["key"] for name, spec in info.items() if name != "_id_"}
    assert set(ours) == {
        "cluster_namespace_name",
        "cluster_name",
        "cluster_labels",
        "cluster_created",
        "cluster_namespace_phase",
        "cluster_nodeName_phase",
    }
    assert all(keys[0][0] == "_mirror.cluster" for keys in ours.values())
    assert info["cluster_namespace_name"].get("unique") is True


def test_an_integer_beyond_64_bits_is_unencodable_and_skipped_while_the_rest_lands(
    backend: MongoBackend,
) -> None:
    huge = pod("huge")
    huge["metadata"]["generation"] = 2**64 - 1
    result = backend.apply(PODS, upserts("pods", [pod("a"), huge]), [])
    assert result.upserted == 1
    ((failure),) = result.failed
    assert (failure.key, failure.reason) == ("default/huge", "unencodable")
    assert set(backend.versions(PODS)) == {"uid-default-a"}


def test_two_clusters_share_a_database_without_seeing_each_others_documents(
    client: mongomock.MongoClient,
) -> None:
    ours = MongoBackend(client=client, database="shared", cluster=CLUSTER)
    theirs = MongoBackend(client=client, database="shared", cluster="other")
    for b in (ours, theirs):
        b.ensure_schema(PODS)
    ours.apply(PODS, upserts("pods", [pod("a", uid="ours-a")]), [])
    other_doc = upserts("pods", [pod("a", uid="theirs-a")])[0]
    document = other_doc.document.replace(CLUSTER.encode(), b"other")
    theirs.apply(PODS, [type(other_doc)(other_doc.uid, "default", "a", "1", document)], [])
    assert ours.versions(PODS) == {"ours-a": "1"}
    assert theirs.versions(PODS) == {"theirs-a": "1"}
    assert ours.query(PODS).total == 1
    assert ours.get(PODS, "theirs-a") is None
    ours.apply(PODS, [], [Delete.by_key("default/a")])
    assert theirs.versions(PODS) == {"theirs-a": "1"}


class FlakyCollection:
    """A mongomock collection whose first bulk writes fail some operations, as a server does:
    the others are applied, the failed ones reported in a BulkWriteError."""

    def __init__(self, inner: Any, failures: list[dict[int, int]], concern_error: bool = False):
        self.inner = inner
        self.failures = failures
        self.concern_error = concern_error
        self.calls: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def bulk_write(self, ops: list[Any], ordered: bool = True) -> Any:
        self.calls.append(len(ops))
        failing = self.failures.pop(0) if self.failures else {}
        kept = [op for i, op in enumerate(ops) if i not in failing]
        if kept:
            self.inner.bulk_write(kept, ordered=ordered)
        if failing or self.concern_error:
            errors = [
                {"index": i, "code": code, "errmsg": f"code {code}"} for i, code in failing.items()
            ]
            concern = [{"code": 64, "errmsg": "waiting for replication timed out"}]
            raise BulkWriteError(
                {
                    "writeErrors": errors,
                    "writeConcernErrors": concern if self.concern_error else [],
                    "nRemoved": 0,
                    "nUpserted": len(kept),
                }
            )
        return _Result()


class _Result:
    acknowledged = True
    deleted_count = 0


class FlakyClient:
    """A client (the backend's injected dependency) whose ``pods`` collection is flaky."""

    def __init__(self, inner: mongomock.MongoClient, collection: FlakyCollection) -> None:
        self.inner = inner
        self.collection = collection

    def __getitem__(self, database: str) -> Any:
        return self

    def get_collection(self, name: str, **kw: Any) -> Any:
        return self.collection

    def close(self) -> None:
        self.inner.close()


def flaky_backend(client: mongomock.MongoClient, collection: FlakyCollection) -> MongoBackend:
    return MongoBackend(client=FlakyClient(client, collection), database="mirror", cluster=CLUSTER)


def test_a_bulk_write_error_retries_only_the_failed_transient_operations(
    client: mongomock.MongoClient,
) -> None:
    collection = FlakyCollection(raw_pods(client), failures=[{1: 91, 2: 121}])
    backend = flaky_backend(client, collection)
    result = backend.apply(PODS, upserts("pods", [pod("a"), pod("b"), pod("c"), pod("d")]), [])
    assert collection.calls == [4, 1]  # the retry carries only the transient failure (91)
    assert [(f.key, f.reason) for f in result.failed] == [("default/c", "rejected")]
    assert result.upserted == 3
    assert set(raw_pods(client).distinct("_id")) == {
        "uid-default-a",
        "uid-default-b",
        "uid-default-d",
    }


def test_operations_still_failing_after_the_retries_make_the_call_transient(
    client: mongomock.MongoClient,
) -> None:
    collection = FlakyCollection(raw_pods(client), failures=[{0: 189}] * 5)
    backend = flaky_backend(client, collection)
    with pytest.raises(TransientBackendError, match="still failing"):
        backend.apply(PODS, upserts("pods", [pod("a")]), [])
    assert collection.calls == [1, 1, 1]


def test_a_write_concern_error_makes_the_call_transient(client: mongomock.MongoClient) -> None:
    collection = FlakyCollection(raw_pods(client), failures=[], concern_error=True)
    backend = flaky_backend(client, collection)
    with pytest.raises(TransientBackendError, match="write concern"):
        backend.apply(PODS, upserts("pods", [pod("a")]), [])


def test_an_unreachable_server_is_a_transient_error() -> None:
    settings = MongoBackendSettings(uri="mongodb://127.0.0.1:9/", timeout=0.2)
    backend = MongoBackend.from_settings(settings, cluster=CLUSTER)
    try:
        with pytest.raises(TransientBackendError):
            backend.ping()
        with pytest.raises(TransientBackendError):
            backend.apply(PODS, upserts("pods", [pod("a")]), [])
    finally:
        backend.close()


def test_open_backend_builds_a_mongo_backend_without_connecting() -> None:
    settings = Settings(
        cluster=ClusterSettings(name=CLUSTER),
        backend=MongoBackendSettings(
            uri="mongodb://user:secret@127.0.0.1:9/", database="mirror", timeout=0.2
        ),
    )
    backend = open_backend(settings)
    try:
        assert backend.kind == "mongo"
        assert "secret" not in backend.describe()
        assert "mirror" in backend.describe()
    finally:
        backend.close()
