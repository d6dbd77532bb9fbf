"""The BatchWriter against real Stores, a real WorkQueue and real backends (a SQLite file, and
mongomock), with outages injected at the Backend seam. Informers are stood in for by their Store
and sync flag; ``test_convergence.py`` runs the real thing against the simulated cluster."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

import mongomock
import pytest

from informer_mirror.backends import Backend
from informer_mirror.backends.mongo import MongoBackend
from informer_mirror.errors import PermanentBackendError
from informer_mirror.informer.store import Store
from informer_mirror.informer.workqueue import WorkQueue
from informer_mirror.registry.transformers.common import TransformOptions
from informer_mirror.writer import BatchWriter
from tests.backends.support import CLUSTER, REGISTRY, k8s_object, patch_mongomock, pod, store_of
from tests.helpers import wait_until
from tests.writer.conftest import OpenBackend
from tests.writer.fakes import FaultyBackend, RecordingMetrics, Source, make_writer

PODS = REGISTRY["pods"]


class Rig:
    """One daemon life: Stores standing in for informers, the shared queue, a writer."""

    def __init__(self, backend: Backend, **writer_options: Any) -> None:
        self.backend = FaultyBackend(backend)
        self.queue: WorkQueue[Any] = WorkQueue(name="mirror")
        self.sources = {
            "pods": Source(store_of("pods", [])),
            "configmaps": Source(store_of("configmaps", [])),
        }
        self.metrics = RecordingMetrics()
        self.writer: BatchWriter = make_writer(
            self.backend, self.sources, self.queue, metrics=self.metrics, **writer_options
        )

    def store(self, resource: str = "pods") -> Store:
        return self.sources[resource].store

    def put(self, obj: dict[str, Any], resource: str = "pods") -> None:
        """What an informer does on a watch event: update the Store, enqueue the key."""
        change = self.store(resource).update(obj)
        self.queue.add((resource, change.key))

    def remove(self, key: str, resource: str = "pods") -> None:
        self.store(resource).delete_key(key)
        self.queue.add((resource, key))

    def list_all(self, objects: dict[str, list[dict[str, Any]]]) -> None:
        """What an informer does on its first list: replace the Store, enqueue, mark synced."""
        for resource, source in self.sources.items():
            result = source.store.replace(objects.get(resource, []), "1000")
            for key in (*result.added, *result.changed, *result.removed):
                self.queue.add((resource, key))
            source.has_synced = True

    def stored(self, resource: str = "pods") -> dict[str, str]:
        return self.backend.inner.versions(REGISTRY[resource])

    def cached(self, resource: str = "pods") -> dict[str, str]:
        return {r.uid: r.resource_version for r in self.store(resource).list_stored()}

    def converged(self) -> bool:
        return all(self.stored(r) == self.cached(r) for r in self.sources)

    def stop(self, **kw: Any) -> bool:
        return self.writer.stop(**kw)


NewRig = Callable[..., Rig]


@pytest.fixture
def new_rig(open_backend: OpenBackend) -> Iterator[NewRig]:
    """Makes rigs (daemon lives) on the same storage; stops every one of them afterwards, even
    when the test failed half-way."""
    made: list[Rig] = []

    def make(backend_options: dict[str, Any] | None = None, **writer_options: Any) -> Rig:
        r = Rig(open_backend(**(backend_options or {})), **writer_options)
        made.append(r)
        return r

    yield make
    for r in made:
        r.writer.stop(drain_timeout=0)


@pytest.fixture
def rig(new_rig: NewRig) -> Rig:
    return new_rig()


def pods(n: int, rv: str = "1", prefix: str = "p") -> list[dict[str, Any]]:
    return [pod(f"{prefix}{i}", rv=rv) for i in range(n)]


def test_a_burst_of_changes_to_one_object_is_one_write_of_its_latest_state(rig: Rig) -> None:
    rig.list_all({})
    for rv in range(1, 11):
        rig.put(pod("a", rv=str(rv)))
    assert len(rig.queue) == 1
    rig.writer.start()
    wait_until(lambda: rig.writer.first_full_sync_flushed)
    assert rig.stored() == {"uid-default-a": "10"}
    assert rig.backend.written("upsert") == 1


def test_a_key_missing_from_the_store_deletes_its_document(rig: Rig) -> None:
    rig.list_all({"pods": pods(3)})
    rig.writer.start()
    wait_until(lambda: rig.writer.first_full_sync_flushed)
    rig.remove("default/p1")
    wait_until(lambda: set(rig.stored()) == {"uid-default-p0", "uid-default-p2"})
    # the writer counts a write once the backend has committed it: the row can go first
    wait_until(lambda: rig.metrics.written[("pods", "delete")] >= 1)
    assert rig.metrics.written[("pods", "delete")] == 1


def test_a_poisoned_document_is_skipped_and_counted_while_the_rest_of_its_batch_lands(
    new_rig: NewRig,
) -> None:
    rig = new_rig({"max_document_bytes": 32 * 1024})
    huge = pod("huge")
    huge["metadata"]["annotations"] = {"note": "x" * 50_000}
    no_uid = pod("no-uid")
    no_uid["metadata"]["uid"] = ""
    rig.list_all({"pods": [pod("a"), huge, no_uid, pod("b")]})
    rig.writer.start()
    wait_until(lambda: rig.writer.first_full_sync_flushed)
    assert set(rig.stored()) == {"uid-default-a", "uid-default-b"}
    status = rig.writer.status()
    assert status.errors == {"too_large": 1, "no_uid": 1}
    assert status.resources["pods"].skipped == 2
    assert status.resources["pods"].upserted == 2
    assert rig.metrics.errors == {"too_large": 1, "no_uid": 1}
    assert status.last_error is not None
    assert "default/huge: too_large" in status.last_error


def test_a_document_mongodb_cannot_encode_is_skipped_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patch_mongomock(monkeypatch)
    backend = MongoBackend(client=mongomock.MongoClient(), database="m", cluster=CLUSTER)
    rig = Rig(backend)
    overflow = pod("overflow")
    overflow["metadata"]["generation"] = 2**64 - 1  # JSON allows it, BSON has no such integer
    rig.list_all({"pods": [pod("a"), overflow, pod("b")]})
    rig.writer.start()
    try:
        wait_until(lambda: rig.writer.first_full_sync_flushed)
        assert set(rig.stored()) == {"uid-default-a", "uid-default-b"}
        assert rig.writer.status().errors == {"unencodable": 1}
    finally:
        rig.stop(drain_timeout=0)


def test_an_outage_loses_nothing_and_the_mirror_converges_when_the_backend_returns(
    rig: Rig,
) -> None:
    rig.list_all({"pods": pods(20)})
    rig.writer.start()
    wait_until(lambda: rig.writer.first_full_sync_flushed)
    rig.backend.down.set()
    for i in range(0, 20, 2):
        rig.put(pod(f"p{i}", rv="2"))
    rig.remove("default/p1")
    rig.put(pod("new", rv="3"), "configmaps")
    wait_until(lambda: rig.writer.status().circuit == "open")
    for i in range(0, 20, 4):
        rig.put(pod(f"p{i}", rv="3"))  # changed again during the outage: still one key each
    rig.remove("default/p3")
    assert not rig.converged()
    rig.backend.down.clear()
    wait_until(rig.converged)
    assert rig.stored()["uid-default-p4"] == "3"
    assert "uid-default-p1" not in rig.stored()
    status = rig.writer.status()
    assert status.errors["transient"] >= FAST_FAILURES
    assert status.circuit == "closed"
    wait_until(lambda: rig.queue.processing_count == 0 and len(rig.queue) == 0)


FAST_FAILURES = 3
"""The breaker of ``fakes.FAST_BREAKER`` opens after this many failures in a row."""


def test_a_backend_down_at_start_up_delays_the_writer_until_it_answers(rig: Rig) -> None:
    rig.backend.down.set()
    rig.list_all({"pods": pods(5)})
    rig.writer.start()
    wait_until(lambda: rig.backend.failures >= 3)
    assert not rig.writer.first_full_sync_flushed
    rig.backend.down.clear()
    wait_until(lambda: rig.writer.first_full_sync_flushed)
    assert rig.converged()


def test_a_warm_restart_with_nothing_changed_writes_no_document(new_rig: NewRig) -> None:
    objects = {"pods": pods(120), "configmaps": [k8s_object("cm", data={"k": "v"})]}
    first = new_rig()
    first.list_all(objects)
    first.writer.start()
    wait_until(lambda: first.writer.first_full_sync_flushed)
    assert first.stop()
    assert first.backend.written("upsert") == 121

    second = new_rig()
    second.writer.start()
    second.list_all(objects)
    wait_until(lambda: second.writer.first_full_sync_flushed)
    assert second.stop()
    assert second.backend.written("upsert") == 0
    assert second.backend.written("delete") == 0
    assert second.backend.apply_calls == 0
    assert second.writer.status().resources["pods"].unchanged == 120


def test_objects_deleted_or_changed_while_stopped_are_mirrored_at_the_next_start(
    new_rig: NewRig,
) -> None:
    first = new_rig()
    first.list_all({"pods": pods(30)})
    first.writer.start()
    wait_until(lambda: first.writer.first_full_sync_flushed)
    assert first.stop()

    now = [pod(f"p{i}", rv="9" if i % 3 == 0 else "1") for i in range(10, 30)]  # p0-p9 gone
    second = new_rig()
    second.list_all({"pods": [*now, pod("fresh", rv="9")]})
    second.writer.start()
    wait_until(lambda: second.writer.first_full_sync_flushed)
    assert second.converged()
    progress = second.writer.status().resources["pods"]
    assert progress.stale_deleted == 10
    assert second.backend.written("upsert") == 1 + sum(1 for i in range(10, 30) if i % 3 == 0)
    assert second.stop()


def test_documents_written_in_another_format_are_rewritten_once(new_rig: NewRig) -> None:
    first = new_rig()
    first.list_all({"pods": pods(10)})
    first.writer.start()
    wait_until(lambda: first.writer.first_full_sync_flushed)
    assert first.stop()

    capped = dataclasses.replace(PODS, options=TransformOptions(message_cap=10))
    second = new_rig(specs=[capped, REGISTRY["configmaps"]])
    second.list_all({"pods": pods(10)})
    second.writer.start()
    wait_until(lambda: second.writer.first_full_sync_flushed)
    assert second.backend.written("upsert") == 10
    assert second.stop()


def test_first_full_sync_waits_for_each_synced_informer_and_not_for_one_that_never_syncs(
    rig: Rig,
) -> None:
    rig.writer.start()
    wait_until(lambda: rig.writer.status().resources["pods"].phase == "waiting_for_sync")
    assert not rig.writer.first_full_sync_flushed  # nothing has synced yet
    store = rig.store()
    for obj in pods(5):
        store.update(obj)
        rig.queue.add(("pods", f"default/{obj['metadata']['name']}"))
    rig.sources["pods"].has_synced = True  # configmaps never syncs (say, RBAC forbids it)
    wait_until(lambda: rig.writer.first_full_sync_flushed)
    assert rig.writer.status().resources["configmaps"].phase == "waiting_for_sync"
    assert rig.converged()


def test_stop_writes_the_queued_keys_then_closes_the_backend(rig: Rig) -> None:
    rig.list_all({"pods": pods(10)})
    rig.writer.start()
    wait_until(lambda: rig.writer.first_full_sync_flushed)
    for i in range(10, 200):
        rig.put(pod(f"p{i}"))
    assert rig.stop(drain_timeout=10)
    assert rig.backend.written("upsert") == 200
    assert not [t for t in threading.enumerate() if t.name.startswith("writer-")]
    with pytest.raises(PermanentBackendError):
        rig.backend.inner.ping()


def test_stop_during_an_outage_gives_up_after_the_drain_timeout(rig: Rig) -> None:
    rig.list_all({"pods": pods(3)})
    rig.writer.start()
    wait_until(lambda: rig.writer.first_full_sync_flushed)
    rig.backend.down.set()
    rig.put(pod("late", rv="5"))
    wait_until(lambda: rig.backend.failures >= 1)
    assert rig.stop(drain_timeout=0.2) is False
    assert not [t for t in threading.enumerate() if t.name.startswith("writer-")]


def test_several_writer_threads_share_the_queue_and_converge(new_rig: NewRig) -> None:
    rig = new_rig(workers=3)
    rig.list_all({"pods": pods(300)})
    rig.writer.start()
    wait_until(lambda: rig.writer.first_full_sync_flushed)
    names = {t.name for t in threading.enumerate()}
    assert {"writer-0", "writer-1", "writer-2"} <= names
    for rv in range(2, 6):
        for i in range(0, 300, rv):
            rig.put(pod(f"p{i}", rv=str(rv)))
    wait_until(rig.converged)
    assert rig.stop()


def test_status_and_metrics_report_the_writers_progress(rig: Rig) -> None:
    before = rig.writer.status()
    assert (before.running, before.batches, before.last_flush_at) == (False, 0, None)
    rig.list_all({"pods": pods(120)})
    rig.writer.start()
    wait_until(lambda: rig.writer.first_full_sync_flushed)
    rig.queue.add(("no-such-resource", "default/x"))
    wait_until(lambda: rig.writer.status().errors.get("unknown_resource") == 1)
    status = rig.writer.status()
    assert status.running
    assert status.workers == 1
    assert status.batches >= 3  # 120 keys in batches of at most 50
    assert status.last_flush_at is not None
    assert status.last_flush_age is not None
    assert status.circuit == "closed"
    assert status.first_full_sync_flushed
    assert status.resources["pods"].phase == "flushed"
    assert status.resources["pods"].upserted == 120
    assert rig.metrics.written[("pods", "upsert")] == 120
    assert sum(rig.metrics.flushes) >= 120
    assert max(rig.metrics.flushes) <= 50
