"""The daemon's per-resource pieces: the ListerWatcher that notices 403/404 and cuts a stalled
watch (against the simulated cluster over real HTTP), the merged view of per-namespace Stores the
writer reads, and the one state a resource shows for several namespaces."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from informer_mirror.access import ObservedListerWatcher
from informer_mirror.components import MergedStore, merge_states
from informer_mirror.errors import KubeForbidden, KubeNotFound
from informer_mirror.informer.reflector_types import Phase
from informer_mirror.informer.store import Store
from informer_mirror.kinds import BUILTIN_BY_PLURAL
from informer_mirror.kube import ApiResource, KubeClient, KubeListerWatcher
from informer_mirror.sim import SimHandle
from tests.api.fakes import reflector_state
from tests.helpers import namespace_obj, pod_obj, wait_until

PODS_RULE = '{apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"]}'


@pytest.fixture
def observed(sim: SimHandle, kubeconfig: Path) -> Iterator[ObservedListerWatcher]:
    sim.state.create("namespaces", namespace_obj("default"))
    sim.state.create("pods", pod_obj("web"))
    client = KubeClient.from_kubeconfig(kubeconfig)
    lw = KubeListerWatcher(client, ApiResource.from_kind(BUILTIN_BY_PLURAL["pods"]))
    try:
        yield ObservedListerWatcher(lw, name="pods")
    finally:
        lw.close()
        client.close()


def list_once(observed: ObservedListerWatcher) -> str:
    return observed.list_page(resource_version="", limit=0, continue_token=None).resource_version


def test_a_forbidden_list_degrades_the_resource_with_the_missing_rule_until_a_list_succeeds(
    sim: SimHandle, observed: ObservedListerWatcher
) -> None:
    assert observed.access_problem() is None
    sim.faults.forbid("list", "pods")
    with pytest.raises(KubeForbidden):
        list_once(observed)
    problem = observed.access_problem()
    assert problem is not None and PODS_RULE in problem
    sim.faults.allow("list", "pods")
    list_once(observed)
    assert observed.access_problem() is None


def test_a_resource_that_may_be_listed_but_not_watched_stays_degraded_until_a_watch_opens(
    sim: SimHandle, observed: ObservedListerWatcher
) -> None:
    sim.faults.forbid("watch", "pods")
    rv = list_once(observed)
    with pytest.raises(KubeForbidden):
        observed.watch(resource_version=rv, timeout_seconds=30)
    list_once(observed)  # a relist succeeds, the watch is still refused
    problem = observed.access_problem()
    assert problem is not None and "cannot watch pods" in problem
    sim.faults.allow("watch", "pods")
    observed.watch(resource_version=rv, timeout_seconds=30).close()
    assert observed.access_problem() is None


def test_a_resource_the_server_does_not_serve_is_degraded_as_not_served(
    sim: SimHandle, observed: ObservedListerWatcher
) -> None:
    sim.faults.unserve("pods")
    with pytest.raises(KubeNotFound):
        list_once(observed)
    problem = observed.access_problem()
    assert problem is not None and "not served by this API server (404)" in problem


def test_interrupting_the_open_watch_ends_its_stream_and_leaves_the_lister_watcher_usable(
    sim: SimHandle, observed: ObservedListerWatcher
) -> None:
    assert observed.interrupt_watch() is False
    stream = observed.watch(resource_version=list_once(observed), timeout_seconds=60)
    ended = threading.Event()

    def consume() -> None:
        for _ in stream:
            pass
        ended.set()

    reader = threading.Thread(target=consume, name="test-watch-reader")
    reader.start()
    try:
        assert observed.interrupt_watch() is True
        wait_until(ended.is_set, 5)
    finally:
        stream.close()
        reader.join(5)
    assert observed.interrupt_watch() is False
    assert list_once(observed)  # not closed for good, unlike close()


def _pod(name: str, namespace: str, uid: str) -> dict[str, Any]:
    obj = pod_obj(name, namespace)
    obj["metadata"].update(uid=uid, resourceVersion="1")
    return obj


def test_the_merged_store_routes_each_key_to_its_namespace_and_lists_the_union() -> None:
    a, b = Store(name="pods/a"), Store(name="pods/b")
    a.add(_pod("web", "a", "u1"))
    b.add(_pod("web", "b", "u2"))
    b.add(_pod("db", "b", "u3"))
    merged = MergedStore({"a": a, "b": b})
    record = merged.get_stored("b/web")
    assert record is not None and record.uid == "u2"
    assert merged.get_stored("c/web") is None
    assert merged.get_stored("web") is None
    assert sorted(r.uid for r in merged.list_stored()) == ["u1", "u2", "u3"]
    assert len(merged) == 3


WATCHING = reflector_state(
    "pods",
    resource_version="10",
    last_event_at=5.0,
    watch_requests=2,
    events=7,
    watch_restarts={"closed": 1},
)


def test_a_resource_in_several_namespaces_shows_its_least_advanced_and_worst_state() -> None:
    merged = merge_states(
        "pods",
        [
            ("a", WATCHING),
            (
                "b",
                replace(
                    WATCHING,
                    phase=Phase.BACKING_OFF,
                    resource_version="12",
                    synced=False,
                    last_error="KubeServerError: 500",
                    failures=3,
                    circuit="half_open",
                    last_event_at=9.0,
                ),
            ),
        ],
    )
    assert merged.name == "pods"
    assert merged.phase is Phase.BACKING_OFF
    assert merged.resource_version == "a=10 b=12"
    assert merged.synced is False
    assert merged.last_error == "b: KubeServerError: 500"
    assert (merged.failures, merged.circuit, merged.last_event_at) == (3, "half_open", 9.0)
    assert (merged.events, merged.watch_requests) == (14, 4)
    assert merged.watch_restarts == {"closed": 2}
