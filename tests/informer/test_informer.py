"""The Informer and InformerSet against the simulated cluster over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from informer_mirror.informer.informer import EventHandler, Informer, InformerSet
from informer_mirror.informer.store import PUBLISH_EVERY, Store
from informer_mirror.informer.stored import StoredObject
from informer_mirror.informer.workqueue import WorkQueue
from informer_mirror.kinds import BUILTIN_BY_PLURAL
from informer_mirror.kube import ApiResource, KubeClient, KubeListerWatcher
from informer_mirror.sim import SimHandle, start_sim
from tests.helpers import wait_until
from tests.informer.rig import informer_rig, make_pod, prepare


@pytest.fixture
def cluster() -> Iterator[SimHandle]:
    sim = start_sim(bookmark_interval=60.0)
    prepare(sim)
    try:
        yield sim
    finally:
        sim.stop()


class Recorder:
    """An event handler that records what it was told, in order."""

    def __init__(self, *, resync: bool = False) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self.handler = EventHandler(
            on_add=lambda o: self._record("add", o),
            on_update=lambda old, new: self._record("update", new, old),
            on_delete=lambda o: self._record("delete", o),
            resync=resync,
        )

    def _record(self, what: str, obj: StoredObject, old: StoredObject | None = None) -> None:
        with self._lock:
            detail = obj.resource_version if what == "update" else obj.uid
            self.calls.append((what, obj.key, detail))

    def of(self, what: str) -> list[str]:
        with self._lock:
            return [key for kind, key, _ in self.calls if kind == what]


def _uid(sim: SimHandle, name: str) -> str:
    uid: str = sim.state.get("pods", "default", name)["metadata"]["uid"]
    return uid


def _touch(sim: SimHandle, name: str) -> None:
    pod = sim.state.get("pods", "default", name)
    pod["metadata"].setdefault("labels", {})["touched"] = "yes"
    sim.state.update("pods", pod)


def test_watch_events_update_the_store_and_enqueue_the_changed_keys(
    cluster: SimHandle, tmp_path: Path
) -> None:
    cluster.state.create("pods", make_pod("a"))
    with informer_rig(cluster, tmp_path, start=False) as rig:
        recorder = Recorder()
        rig.informer.add_event_handler(recorder.handler)
        rig.informer.start()
        assert rig.informer.wait_for_sync(10)
        assert rig.drain_queue() == {("pods", "default/a")}
        cluster.state.create("pods", make_pod("b"))
        _touch(cluster, "a")
        cluster.state.delete("pods", "default", "a")
        wait_until(lambda: len(recorder.calls) == 4)
        keys = rig.drain_queue()
        stored = rig.store_pods()
    assert keys == {("pods", "default/a"), ("pods", "default/b")}
    assert [(what, key) for what, key, _ in recorder.calls] == [
        ("add", "default/a"),
        ("add", "default/b"),
        ("update", "default/a"),
        ("delete", "default/a"),
    ]
    b_rv = cluster.state.get("pods", "default", "b")["metadata"]["resourceVersion"]
    assert stored == {"default/b": b_rv}
    assert rig.informer.store.get_by_key("default/b") is not None
    assert "managedFields" not in rig.informer.store.get_by_key("default/b")["metadata"]


def test_deletes_made_while_the_informer_was_stopped_are_found_by_the_relist(
    cluster: SimHandle, tmp_path: Path
) -> None:
    for name in ("keep", "gone", "changed"):
        cluster.state.create("pods", make_pod(name))
    with informer_rig(cluster, tmp_path) as first:
        assert first.informer.wait_for_sync(10)
        store = first.informer.store
        resource_version = first.informer.state().resource_version
    # The daemon is down: one pod is deleted, one changed, one created.
    cluster.state.delete("pods", "default", "gone")
    _touch(cluster, "changed")
    cluster.state.create("pods", make_pod("new"))
    with informer_rig(
        cluster, tmp_path, store=store, resource_version=resource_version, start=False
    ) as second:
        recorder = Recorder()
        second.informer.add_event_handler(recorder.handler)
        second.informer.start()
        assert second.informer.wait_for_sync(10)
        keys = second.drain_queue()
        listed_at = second.list_requests()[-1].query
    assert keys == {("pods", "default/gone"), ("pods", "default/changed"), ("pods", "default/new")}
    assert recorder.of("delete") == ["default/gone"]
    assert recorder.of("update") == ["default/changed"]
    assert recorder.of("add") == ["default/new"]
    assert recorder.calls[0][0] == "delete"  # deletes are delivered first
    assert f"resourceVersion={resource_version}" in listed_at  # not "0": the store has state
    assert sorted(second.store_pods()) == ["default/changed", "default/keep", "default/new"]


def test_deletes_made_while_disconnected_are_delivered_after_the_relist(
    cluster: SimHandle, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        cluster.state.create("pods", make_pod(name))
    with informer_rig(cluster, tmp_path, start=False) as rig:
        recorder = Recorder()
        rig.informer.add_event_handler(recorder.handler)
        rig.informer.start()
        assert rig.informer.wait_for_sync(10)
        rig.drain_queue()
        wait_until(lambda: rig.informer.state().watch_requests == 1)
        rig.fake.advance(10)
        cluster.faults.stall_watches()  # the DELETED event never reaches the client...
        cluster.state.delete("pods", "default", "a")
        cluster.faults.expire_history("pods")  # ...and is gone from the history
        cluster.faults.drop_watches()
        wait_until(lambda: recorder.of("delete") == ["default/a"])
        keys = rig.drain_queue()
    assert ("pods", "default/a") in keys
    assert rig.informer.state().relists == 1


def test_a_new_uid_under_the_same_name_is_a_delete_and_a_create(
    cluster: SimHandle, tmp_path: Path
) -> None:
    cluster.state.create("pods", make_pod("web"))
    with informer_rig(cluster, tmp_path) as first:
        assert first.informer.wait_for_sync(10)
        store = first.informer.store
        old_uid = _uid(cluster, "web")
    cluster.state.delete("pods", "default", "web")
    cluster.state.create("pods", make_pod("web"))
    new_uid = _uid(cluster, "web")
    with informer_rig(cluster, tmp_path, store=store, start=False) as second:
        recorder = Recorder()
        second.informer.add_event_handler(recorder.handler)
        second.informer.start()
        assert second.informer.wait_for_sync(10)
    assert recorder.calls == [("delete", "default/web", old_uid), ("add", "default/web", new_uid)]


def test_an_unchanged_object_on_relist_is_neither_enqueued_nor_delivered(
    cluster: SimHandle, tmp_path: Path
) -> None:
    cluster.state.create("pods", make_pod("same"))
    with informer_rig(cluster, tmp_path, start=False) as rig:
        recorder = Recorder()
        rig.informer.add_event_handler(recorder.handler)
        rig.informer.start()
        assert rig.informer.wait_for_sync(10)
        rig.drain_queue()
        rig.fake.advance(10)
        cluster.faults.expire_history("pods")
        cluster.faults.drop_watches()
        wait_until(lambda: rig.informer.state().relists == 1)
        assert rig.drain_queue() == set()
    assert recorder.calls == [("add", "default/same", _uid(cluster, "same"))]


def test_handler_errors_are_caught_and_the_next_handler_still_runs(
    cluster: SimHandle, tmp_path: Path
) -> None:
    cluster.state.create("pods", make_pod("a"))

    def explode(obj: StoredObject) -> None:
        raise RuntimeError("consumer bug")

    with informer_rig(cluster, tmp_path, start=False) as rig:
        recorder = Recorder()
        rig.informer.add_event_handler(EventHandler(on_add=explode))
        rig.informer.add_event_handler(recorder.handler)
        rig.informer.start()
        assert rig.informer.wait_for_sync(10)
        cluster.state.create("pods", make_pod("b"))
        wait_until(lambda: recorder.of("add") == ["default/a", "default/b"])
        assert rig.informer.handler_errors == 2
        assert rig.informer.state().phase.value == "watching"
        with pytest.raises(RuntimeError, match="before starting"):
            rig.informer.add_event_handler(Recorder().handler)


def test_resync_re_enqueues_every_cached_key_without_calling_the_api(
    cluster: SimHandle, tmp_path: Path
) -> None:
    for name in ("a", "b", "c"):
        cluster.state.create("pods", make_pod(name))
    with informer_rig(cluster, tmp_path, start=False) as rig:
        wants_resync = Recorder(resync=True)
        quiet = Recorder()
        rig.informer.add_event_handler(wants_resync.handler)
        rig.informer.add_event_handler(quiet.handler)
        rig.informer.start()
        assert rig.informer.wait_for_sync(10)
        wait_until(lambda: rig.informer.state().watch_requests == 1)
        rig.drain_queue()
        requests_before = len(cluster.faults.requests())
        assert rig.informer.resync() == 3
        keys = rig.drain_queue()
        requests_after = len(cluster.faults.requests())
    assert keys == {("pods", f"default/{n}") for n in "abc"}
    assert requests_after == requests_before
    assert sorted(wants_resync.of("update")) == ["default/a", "default/b", "default/c"]
    assert quiet.of("update") == []


def test_the_resync_thread_re_enqueues_keys_periodically(
    cluster: SimHandle, tmp_path: Path
) -> None:
    cluster.state.create("pods", make_pod("a"))
    with informer_rig(cluster, tmp_path, resync_period=0.02) as rig:
        assert rig.informer.wait_for_sync(10)
        for _ in range(3):  # drained keys come back without any change in the cluster
            wait_until(lambda: len(rig.queue) == 1)
            assert rig.drain_queue() == {("pods", "default/a")}
        assert rig.informer.state().lists == 1
        assert any(t.name == "resync/pods" for t in threading.enumerate())
    assert not any(t.name == "resync/pods" for t in threading.enumerate())


def test_wait_for_sync_times_out_while_the_list_keeps_failing(
    cluster: SimHandle, tmp_path: Path
) -> None:
    cluster.faults.forbid("list", "pods")
    with informer_rig(cluster, tmp_path, auto=False) as rig:
        wait_until(lambda: rig.fake.pending == 1)
        assert not rig.informer.has_synced
        assert rig.informer.wait_for_sync(0.05) is False


def test_an_informer_set_starts_syncs_and_stops_every_informer(
    cluster: SimHandle, tmp_path: Path
) -> None:
    cluster.state.create("pods", make_pod("a"))
    cluster.state.create("configmaps", {"metadata": {"name": "cm", "namespace": "default"}})
    client = KubeClient.from_kubeconfig(cluster.write_kubeconfig(tmp_path / "kc"))
    queue: WorkQueue[Any] = WorkQueue(name="mirror")
    informers = InformerSet(
        Informer(
            name=plural,
            lister_watcher=KubeListerWatcher(
                client, ApiResource.from_kind(BUILTIN_BY_PLURAL[plural])
            ),
            queue=queue,
        )
        for plural in ("pods", "configmaps")
    )
    try:
        informers.start()
        assert informers.wait_for_sync(10)
        assert informers.has_synced
        assert {k for k, _ in queue.get_batch(10, timeout=0)} == {"pods", "configmaps"}
        assert set(informers.states()) == {"pods", "configmaps"}
        assert {t.name for t in threading.enumerate()} >= {"reflector/pods", "reflector/configmaps"}
    finally:
        assert informers.stop(timeout=10)
        client.close()
    assert not [t.name for t in threading.enumerate() if t.name.startswith("reflector/")]
    assert {s.phase.value for s in informers.states().values()} == {"stopped"}


def test_a_first_list_longer_than_a_chunk_queues_and_announces_each_object_once(
    cluster: SimHandle, tmp_path: Path
) -> None:
    names = [f"p{n:04d}" for n in range(PUBLISH_EVERY * 2 + 3)]
    for name in names:
        cluster.state.create("pods", make_pod(name))
    with informer_rig(cluster, tmp_path, start=False) as rig:
        recorder = Recorder()
        rig.informer.add_event_handler(recorder.handler)
        adds: list[Hashable] = []
        original_add, original_add_many = rig.queue.add, rig.queue.add_many

        def counting_add(key: Hashable) -> None:
            adds.append(key)
            original_add(key)

        def counting_add_many(keys: Iterable[Hashable]) -> None:
            listed = list(keys)
            adds.extend(listed)
            original_add_many(listed)

        rig.queue.add = counting_add  # type: ignore[method-assign]
        rig.queue.add_many = counting_add_many  # type: ignore[method-assign]
        rig.informer.start()
        assert rig.informer.wait_for_sync(10)
        keys = rig.drain_queue()
    expected = {f"default/{name}" for name in names}
    assert keys == {("pods", key) for key in expected}
    assert sorted(adds) == sorted(("pods", key) for key in expected), "each key queued once"
    assert sorted(recorder.of("add")) == sorted(expected), "each object announced once"
    assert recorder.of("update") == []


def test_an_informer_given_an_empty_store_uses_that_store(
    cluster: SimHandle, tmp_path: Path
) -> None:
    store = Store(name="pods")  # empty, hence falsy: it must not be taken for "no store"
    client = KubeClient.from_kubeconfig(cluster.write_kubeconfig(tmp_path / "kubeconfig"))
    lister_watcher = KubeListerWatcher(client, ApiResource.from_kind(BUILTIN_BY_PLURAL["pods"]))
    assert Informer(name="pods", lister_watcher=lister_watcher, store=store).store is store
