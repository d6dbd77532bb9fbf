"""ClusterState in-process: the write semantics, history and snapshots the HTTP layer builds on."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from informer_mirror.kinds import KindInfo
from informer_mirror.sim.selectors import Selector
from informer_mirror.sim.state import (
    ClusterState,
    SimBadRequest,
    SimConflict,
    SimExpired,
    SimInvalid,
    SimNotFound,
    SimTooLarge,
)
from tests.helpers import deployment_obj, namespace_obj, pod_obj

WIDGETS = KindInfo(
    group="example.com",
    version="v1",
    plural="widgets",
    singular="widget",
    kind="Widget",
    namespaced=True,
)


def _state(**kw: Any) -> ClusterState:
    state = ClusterState(clock=lambda: 1_700_000_000.0, **kw)
    state.create("namespaces", namespace_obj("default"))
    return state


def _names(objs: list[dict[str, Any]]) -> list[str]:
    return [o["metadata"]["name"] for o in objs]


def test_create_sets_server_fields_and_returns_a_complete_object() -> None:
    state = _state()
    rv_before = state.resource_version
    pod = state.create("pods", pod_obj("web-1"))
    meta = pod["metadata"]
    assert pod["kind"] == "Pod"
    assert pod["apiVersion"] == "v1"
    assert len(meta["uid"]) == 36
    assert meta["creationTimestamp"] == "2023-11-14T22:13:20Z"
    assert meta["resourceVersion"] == str(rv_before + 1)
    assert meta["generation"] == 1
    assert state.resource_version == rv_before + 1


def test_one_resource_version_counter_spans_all_kinds() -> None:
    state = _state()
    pod = state.create("pods", pod_obj("a"))
    deploy = state.create("deployments", deployment_obj("b"))
    pod2 = state.create("pods", pod_obj("c"))
    rvs = [int(o["metadata"]["resourceVersion"]) for o in (pod, deploy, pod2)]
    assert rvs == [rvs[0], rvs[0] + 1, rvs[0] + 2]


def test_create_in_a_missing_namespace_is_not_found() -> None:
    state = _state()
    with pytest.raises(SimNotFound) as err:
        state.create("pods", pod_obj("a", namespace="nowhere"))
    assert err.value.message == 'namespaces "nowhere" not found'
    assert err.value.details == {"name": "nowhere", "kind": "namespaces"}


def test_creating_an_existing_object_is_an_already_exists_conflict() -> None:
    state = _state()
    state.create("deployments", deployment_obj("web"))
    with pytest.raises(SimConflict) as err:
        state.create("deployments", deployment_obj("web"))
    assert err.value.status == 409
    assert err.value.reason == "AlreadyExists"
    assert err.value.message == 'deployments.apps "web" already exists'


def test_create_without_a_name_is_invalid_but_generate_name_works() -> None:
    state = _state()
    nameless = pod_obj("x")
    del nameless["metadata"]["name"]
    with pytest.raises(SimInvalid) as err:
        state.create("pods", nameless)
    assert err.value.status == 422
    nameless["metadata"]["generateName"] = "web-"
    created = state.create("pods", nameless)
    assert created["metadata"]["name"].startswith("web-")
    assert len(created["metadata"]["name"]) == len("web-") + 5


def test_create_refuses_an_object_that_carries_a_resource_version() -> None:
    state = _state()
    pod = pod_obj("a")
    pod["metadata"]["resourceVersion"] = "5"
    with pytest.raises(SimBadRequest):
        state.create("pods", pod)


def test_objects_are_copied_in_and_out() -> None:
    state = _state()
    submitted = pod_obj("a", app="web")
    created = state.create("pods", submitted)
    submitted["metadata"]["labels"]["app"] = "changed-after-submit"
    created["metadata"]["labels"]["app"] = "changed-after-return"
    fetched = state.get("pods", "default", "a")
    assert fetched["metadata"]["labels"] == {"app": "web"}
    fetched["spec"]["containers"].clear()
    assert state.get("pods", "default", "a")["spec"]["containers"]


def test_update_with_a_stale_resource_version_is_a_conflict() -> None:
    state = _state()
    first = state.create("pods", pod_obj("a"))
    state.update("pods", {**first, "status": {"phase": "Running"}})
    with pytest.raises(SimConflict) as err:
        state.update("pods", {**first, "status": {"phase": "Failed"}})
    assert err.value.reason == "Conflict"
    assert "the object has been modified" in err.value.message


def test_update_of_a_missing_object_is_not_found() -> None:
    state = _state()
    with pytest.raises(SimNotFound):
        state.update("pods", pod_obj("ghost"))


def test_update_keeps_identity_and_bumps_generation_only_for_spec_changes() -> None:
    state = _state()
    created = state.create("deployments", deployment_obj("web"))
    status_only = state.update("deployments", {**created, "status": {"replicas": 1}})
    assert status_only["metadata"]["generation"] == 1
    assert status_only["metadata"]["uid"] == created["metadata"]["uid"]
    assert status_only["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    scaled = dict(status_only, spec=dict(status_only["spec"], replicas=3))
    after = state.update("deployments", scaled)
    assert after["metadata"]["generation"] == 2
    assert int(after["metadata"]["resourceVersion"]) > int(
        status_only["metadata"]["resourceVersion"]
    )


def test_an_update_that_changes_nothing_writes_nothing() -> None:
    state = _state()
    created = state.create("pods", pod_obj("a"))
    rv = state.resource_version
    same = state.update("pods", created)
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert state.resource_version == rv


def test_update_keeps_managed_fields_as_the_client_sent_them() -> None:
    state = _state()
    pod = pod_obj("a")
    pod["metadata"]["managedFields"] = [
        {"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {}}
    ]
    created = state.create("pods", pod)
    assert created["metadata"]["managedFields"] == pod["metadata"]["managedFields"]


def test_delete_returns_the_last_state_and_the_object_is_gone() -> None:
    state = _state()
    created = state.create("pods", pod_obj("a"))
    deleted = state.delete("pods", "default", "a")
    assert deleted["metadata"]["uid"] == created["metadata"]["uid"]
    with pytest.raises(SimNotFound):
        state.get("pods", "default", "a")
    with pytest.raises(SimNotFound):
        state.delete("pods", "default", "a")


def test_an_object_with_finalizers_terminates_until_the_last_finalizer_is_removed() -> None:
    state = _state()
    pod = pod_obj("a")
    pod["metadata"]["finalizers"] = ["example.com/hold"]
    state.create("pods", pod)
    terminating = state.delete("pods", "default", "a")
    assert terminating["metadata"]["deletionTimestamp"]
    assert state.get("pods", "default", "a")["metadata"]["deletionTimestamp"]
    released = dict(terminating, metadata=dict(terminating["metadata"], finalizers=[]))
    state.update("pods", released)
    with pytest.raises(SimNotFound):
        state.get("pods", "default", "a")


def test_deleting_a_namespace_deletes_everything_in_it() -> None:
    state = _state()
    state.create("namespaces", namespace_obj("team"))
    state.create("pods", pod_obj("a", namespace="team"))
    state.create("deployments", deployment_obj("d", namespace="team"))
    state.create("pods", pod_obj("keep"))
    state.delete("namespaces", None, "team")
    assert _names(state.list_objects("pods")) == ["keep"]
    assert state.list_objects("deployments") == []


def test_snapshot_maps_plural_and_key_to_complete_objects() -> None:
    state = _state()
    state.create("pods", pod_obj("a"))
    state.create("deployments", deployment_obj("web"))
    snap = state.snapshot()
    assert set(snap["pods"]) == {"default/a"}
    assert snap["deployments"]["default/web"]["kind"] == "Deployment"
    assert set(snap["namespaces"]) == {"default"}


def test_list_page_at_an_old_resource_version_shows_the_state_of_then() -> None:
    state = _state()
    for name in ("a", "b", "c"):
        state.create("pods", pod_obj(name, tier="one"))
    then = state.resource_version
    b = state.get("pods", "default", "b")
    state.update("pods", dict(b, metadata=dict(b["metadata"], labels={"tier": "two"})))
    state.delete("pods", "default", "a")
    state.create("pods", pod_obj("d"))
    page, rv = state.list_page("pods", at_rv=then)
    assert rv == then
    assert [o.name for o in page.items] == ["a", "b", "c"]
    assert [o.labels["tier"] for o in page.items] == ["one", "one", "one"]
    now, _ = state.list_page("pods")
    assert [o.name for o in now.items] == ["b", "c", "d"]


def test_list_page_pages_through_keys_and_counts_what_remains() -> None:
    state = _state()
    for i in range(5):
        state.create("pods", pod_obj(f"p{i}"))
    page, _ = state.list_page("pods", limit=2)
    assert [o.name for o in page.items] == ["p0", "p1"]
    assert page.last_key == "default/p1"
    assert page.remaining == 3
    selected, _ = state.list_page(
        "pods", limit=2, selector=Selector.parse(state.kind("pods"), label_selector="")
    )
    assert selected.remaining == 3


def test_a_compacted_resource_version_is_expired_and_a_future_one_too_large() -> None:
    state = _state()
    state.create("pods", pod_obj("a"))
    old = state.resource_version
    state.expire_history("pods")
    with pytest.raises(SimExpired):
        state.list_page("pods", at_rv=old)
    with pytest.raises(SimExpired, match=r"too old resource version: \d+ \(\d+\)"):
        state.watch("pods", since_rv=old)
    with pytest.raises(SimTooLarge) as err:
        state.list_page("pods", at_rv=state.resource_version + 10)
    assert err.value.status == 504
    assert err.value.to_status()["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


def test_history_is_bounded_and_the_compaction_point_follows_it() -> None:
    state = _state(history_size=3)
    first_rv = state.resource_version
    for i in range(6):
        state.create("pods", pod_obj(f"p{i}"))
    with pytest.raises(SimExpired):
        state.watch("pods", since_rv=first_rv)
    recent = state.resource_version - 2
    watcher = state.watch("pods", since_rv=recent)
    watcher.unregister()


def test_custom_kinds_can_be_registered_at_run_time() -> None:
    state = _state()
    state.register_kind(WIDGETS)
    state.register_kind(WIDGETS)  # idempotent
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    widget["metadata"]["namespace"] = "default"
    created = state.create("widgets", widget)
    assert created["apiVersion"] == "example.com/v1"
    assert state.kind("widgets.example.com") == WIDGETS
    assert state.counts()["widgets.example.com"] == 1
    with pytest.raises(KeyError):
        state.kind("gadgets")


def test_concurrent_writers_get_distinct_resource_versions() -> None:
    state = _state()
    rvs: list[int] = []
    lock = threading.Lock()

    def writer(prefix: str) -> None:
        for i in range(50):
            obj = state.create("pods", pod_obj(f"{prefix}-{i}"))
            with lock:
                rvs.append(int(obj["metadata"]["resourceVersion"]))

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(rvs)) == 200
    assert len(state.list_objects("pods")) == 200
