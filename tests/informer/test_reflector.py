"""The Reflector against the simulated cluster over real HTTP, with injected time.

Every backoff and cool-down goes through FakeTime, so storms run their whole schedule without a
test sleeping; the sim's request log proves what the reflector asked the server, and when.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from informer_mirror.informer.reflector_types import Phase, ReflectorOptions
from informer_mirror.kube import ClientOptions, KubeClient, KubeListerWatcher, ListPage
from informer_mirror.retry import BreakerPolicy
from informer_mirror.sim import SimHandle, start_sim
from tests.helpers import wait_until
from tests.informer.rig import PODS, Rig, informer_rig, make_pod, prepare


@pytest.fixture
def cluster() -> Iterator[SimHandle]:
    sim = start_sim(bookmark_interval=60.0)
    prepare(sim)
    try:
        yield sim
    finally:
        sim.stop()


def _query(record: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(record.query, keep_blank_values=True).items()}


def _create_pods(sim: SimHandle, count: int, prefix: str = "p") -> None:
    for i in range(count):
        sim.state.create("pods", make_pod(f"{prefix}{i}"))


def _watching(rig: Rig, watches: int = 1) -> None:
    """Wait until the reflector has opened ``watches`` watches and is streaming."""
    wait_until(
        lambda: (
            rig.informer.state().watch_requests >= watches
            and rig.informer.state().phase is Phase.WATCHING
        )
    )


def test_the_first_list_is_at_rv_zero_and_the_watch_starts_at_the_list_rv(
    cluster: SimHandle, tmp_path: Path
) -> None:
    _create_pods(cluster, 3)
    with informer_rig(cluster, tmp_path) as rig:
        assert rig.informer.wait_for_sync(10)
        _watching(rig)
        list_rv = rig.informer.state().resource_version
        wait_until(rig.watch_requests)
    (first_list,) = rig.list_requests()
    assert _query(first_list) == {"resourceVersion": "0", "limit": "500"}
    watch = _query(rig.watch_requests()[0])
    assert watch["resourceVersion"] == list_rv
    assert watch["allowWatchBookmarks"] == "true"
    assert 300 <= int(watch["timeoutSeconds"]) < 600
    assert sorted(rig.store_pods()) == ["default/p0", "default/p1", "default/p2"]


def test_an_expired_resource_version_leads_to_exactly_one_relist(
    cluster: SimHandle, tmp_path: Path
) -> None:
    _create_pods(cluster, 3)
    with informer_rig(cluster, tmp_path) as rig:
        assert rig.informer.wait_for_sync(10)
        _watching(rig)
        rig.fake.advance(10)  # the watch has been up for a while: its end is not "very short"
        cluster.faults.expire_history("pods")
        cluster.state.delete("pods", "default", "p1")  # only a relist can see this now
        cluster.faults.drop_watches()
        wait_until(lambda: rig.informer.state().lists == 2)
        _watching(rig, 3)
        state = rig.informer.state()
        store = rig.store_pods()
    assert len(rig.list_requests()) == 2  # the first list and exactly one relist
    relist = _query(rig.list_requests()[1])
    assert relist == {"resourceVersion": relist["resourceVersion"]}  # lastSyncRV, unpaginated
    assert relist["resourceVersion"] not in ("", "0")
    assert state.relists == 1
    assert state.watch_restarts.get("expired") == 1
    assert sorted(store) == ["default/p0", "default/p2"]
    assert len(rig.fake.waits) == 1  # one backoff step before the relist


def test_bookmarks_move_the_resource_version_without_any_pod_changing(tmp_path: Path) -> None:
    sim = start_sim(bookmark_interval=0.05)
    try:
        prepare(sim)
        _create_pods(sim, 1)
        with informer_rig(sim, tmp_path) as rig:
            assert rig.informer.wait_for_sync(10)
            _watching(rig)
            synced_at = int(rig.informer.state().resource_version)
            sim.state.create("configmaps", {"metadata": {"name": "cm", "namespace": "default"}})
            target = str(sim.state.resource_version)
            wait_until(lambda: rig.informer.state().resource_version == target)
            assert int(target) > synced_at
            assert rig.informer.store.last_resource_version == target
            assert rig.informer.state().lists == 1
            assert len(rig.informer.store) == 1
    finally:
        sim.stop()


def test_a_stalled_watch_is_detected_and_recovered_without_a_relist(
    cluster: SimHandle, tmp_path: Path
) -> None:
    with informer_rig(cluster, tmp_path, client_options=ClientOptions(read_timeout=0.3)) as rig:
        assert rig.informer.wait_for_sync(10)
        _watching(rig)
        rig.fake.advance(10)
        assert cluster.faults.stall_watches() >= 1
        cluster.state.create("pods", make_pod("during-stall"))
        wait_until(lambda: "default/during-stall" in rig.store_pods())
        state = rig.informer.state()
    assert state.watch_restarts.get("read-timeout", 0) >= 1
    assert state.lists == 1
    assert len(rig.list_requests()) == 1
    assert rig.fake.waits == []  # a read timeout is a clean re-watch: no backoff


def test_a_clean_close_at_the_server_timeout_re_watches_at_once_without_a_relist(
    cluster: SimHandle, tmp_path: Path
) -> None:
    _create_pods(cluster, 2)
    with informer_rig(cluster, tmp_path) as rig:
        assert rig.informer.wait_for_sync(10)
        _watching(rig)
        rv = rig.informer.state().resource_version
        rig.fake.advance(10)
        assert cluster.faults.close_watches() == 1
        _watching(rig, 2)
        wait_until(lambda: len(rig.watch_requests()) >= 1)
        state = rig.informer.state()
    assert state.watch_restarts.get("closed") == 1
    assert state.lists == 1
    assert rig.fake.waits == []
    assert _query(rig.watch_requests()[-1])["resourceVersion"] == rv


def test_a_watch_that_ends_at_once_with_no_event_counts_as_an_error(
    cluster: SimHandle, tmp_path: Path
) -> None:
    with informer_rig(cluster, tmp_path) as rig:
        assert rig.informer.wait_for_sync(10)
        _watching(rig)
        cluster.faults.close_watches()  # no time passed on the injected clock, no event came
        wait_until(lambda: rig.informer.state().lists == 2)
        state = rig.informer.state()
    assert state.watch_restarts.get("very-short") == 1
    assert [w.phase for w in rig.fake.waits] == ["backing-off"]


def test_a_500_storm_backs_off_with_client_go_delays(cluster: SimHandle, tmp_path: Path) -> None:
    cluster.faults.fail_next(4, status=500, resource="pods")
    with informer_rig(cluster, tmp_path) as rig:
        assert rig.informer.wait_for_sync(10)
        waits = [w.seconds for w in rig.fake.waits]
        state = rig.informer.state()
    statuses = [r.status for r in rig.list_requests()]
    assert statuses == [500, 500, 500, 500, 200]
    # 0.8 s doubling, each wait jittered into [d, 2d): one backoff step per failed list, no more.
    assert len(waits) == 4
    for step, seconds in enumerate(waits):
        base = 0.8 * 2**step
        assert base <= seconds < 2 * base
    assert state.failures == 0
    assert state.circuit == "closed"


def test_a_429_storm_on_the_watch_honours_retry_after_and_keeps_the_same_rv(
    cluster: SimHandle, tmp_path: Path
) -> None:
    _create_pods(cluster, 2)
    with informer_rig(cluster, tmp_path) as rig:
        assert rig.informer.wait_for_sync(10)
        _watching(rig)
        rv = rig.informer.state().resource_version
        rig.fake.advance(10)
        cluster.faults.fail_next(3, status=429, retry_after=7, resource="pods")
        cluster.faults.close_watches()
        _watching(rig, 5)
        state = rig.informer.state()
    throttled = [r for r in rig.watch_requests() if r.status == 429]
    assert len(throttled) == 3
    assert {_query(r)["resourceVersion"] for r in throttled} == {rv}
    assert len(rig.list_requests()) == 1  # backoff, then re-watch: never a relist
    assert [w.phase for w in rig.fake.waits] == ["backing-off"] * 3
    assert all(w.seconds >= 7 for w in rig.fake.waits)
    assert state.watch_restarts.get("too-many-requests") == 3


def test_the_circuit_opens_after_max_retries_and_recovers(
    cluster: SimHandle, tmp_path: Path
) -> None:
    _create_pods(cluster, 1)
    cluster.faults.fail_next(100, status=500, resource="pods")
    policy = BreakerPolicy(max_failures=3, base_delay=60.0, max_delay=600.0)
    with informer_rig(cluster, tmp_path, auto=False, breaker=policy) as rig:

        def next_wait() -> Any:
            wait_until(lambda: rig.fake.pending == 1)
            return rig.fake.waits[-1]

        phases = []
        for _ in range(3):  # three failed lists, each followed by a backoff step
            phases.append(next_wait().phase)
            rig.fake.release()
        cool_down = next_wait()
        state = rig.informer.state()
        assert phases == ["backing-off"] * 3
        assert cool_down.phase == "circuit-open"
        assert state.circuit == "open"
        assert state.phase is Phase.CIRCUIT_OPEN
        assert len(rig.list_requests()) == 3  # nothing was asked during the cool-down
        assert 40 < cool_down.seconds <= 60

        rig.fake.release()  # the cool-down ends: exactly one trial, which fails again
        wait_until(lambda: len(rig.list_requests()) == 4)
        rig.fake.release()  # its backoff step
        longer = next_wait()
        assert longer.phase == "circuit-open"
        assert longer.seconds > 60  # the cool-down doubled
        assert len(rig.list_requests()) == 4

        cluster.faults.reset()
        rig.fake.release()
        assert rig.informer.wait_for_sync(10)
        state = rig.informer.state()
    assert state.circuit == "closed"
    assert state.failures == 0
    assert [r.status for r in rig.list_requests()] == [500, 500, 500, 500, 200]


def test_a_forbidden_list_reports_the_missing_rbac_rule(cluster: SimHandle, tmp_path: Path) -> None:
    cluster.faults.forbid("list", "pods")
    with informer_rig(cluster, tmp_path, auto=False) as rig:
        wait_until(lambda: rig.fake.pending == 1)
        state = rig.informer.state()
        assert state.last_error is not None
        assert state.last_error.startswith("KubeForbidden: forbidden: cannot list pods")
        assert 'resources: ["pods"], verbs: ["get", "list", "watch"]' in state.last_error
        assert state.phase is Phase.BACKING_OFF
        cluster.faults.allow("list", "pods")
        rig.fake.release()
        assert rig.informer.wait_for_sync(10)
        assert rig.informer.state().last_error is None


def test_an_unserved_resource_type_is_reported_as_not_served(
    cluster: SimHandle, tmp_path: Path
) -> None:
    cluster.faults.unserve("pods")
    with informer_rig(cluster, tmp_path, auto=False) as rig:
        wait_until(lambda: rig.fake.pending == 1)
        last_error = rig.informer.state().last_error
    assert last_error is not None
    assert last_error.startswith("KubeNotFound: list pods: the resource type is not served")


def test_a_continue_token_that_expires_mid_list_falls_back_to_one_full_list(
    cluster: SimHandle, tmp_path: Path
) -> None:
    _create_pods(cluster, 5)

    class ExpireAfterFirstPage(KubeListerWatcher):
        def list_page(self, **kwargs: Any) -> ListPage:
            page = super().list_page(**kwargs)
            if kwargs["continue_token"] is None and page.continue_token:
                cluster.faults.expire_history("pods")
            return page

    rig_lw = ExpireAfterFirstPage(_client_for(cluster, tmp_path), PODS)
    options = ReflectorOptions(page_size=2)
    # A store with state of unknown age lists at "" (a consistent, paginated read), not "0".
    with informer_rig(
        cluster, tmp_path, options=options, resource_version="", lister_watcher=rig_lw
    ) as rig:
        assert rig.informer.wait_for_sync(10)
        pods = rig.store_pods()
    queries = [(_query(r), r.status) for r in rig.list_requests()]
    assert queries[0] == ({"limit": "2"}, 200)
    assert queries[1][0]["limit"] == "2" and "continue" in queries[1][0]
    assert "resourceVersion" not in queries[1][0]  # continue pages never carry an RV
    assert queries[1][1] == 410
    assert queries[2] == ({}, 200)  # one unpaginated list at the original RV ("")
    assert len(queries) == 3
    assert len(pods) == 5


def test_an_expired_first_page_relists_at_the_empty_rv(cluster: SimHandle, tmp_path: Path) -> None:
    _create_pods(cluster, 3)
    old_rv = str(cluster.state.resource_version)
    cluster.faults.expire_history("pods")
    options = ReflectorOptions(page_size=2, force_page_size=True)
    with informer_rig(cluster, tmp_path, options=options, resource_version=old_rv) as rig:
        assert rig.informer.wait_for_sync(10)
        assert len(rig.informer.store) == 3
    queries = [(_query(r), r.status) for r in rig.list_requests()]
    assert queries[0] == ({"resourceVersion": old_rv, "limit": "2"}, 410)
    assert queries[1] == ({"limit": "2"}, 200)
    assert rig.fake.waits == []  # client-go retries at "" at once (reflector.go L719-729)


def test_send_initial_events_streams_the_list_through_the_watch(
    cluster: SimHandle, tmp_path: Path
) -> None:
    _create_pods(cluster, 4)
    with informer_rig(cluster, tmp_path, options=ReflectorOptions(use_watch_list=True)) as rig:
        assert rig.informer.wait_for_sync(10)
        cluster.state.create("pods", make_pod("later"))
        wait_until(lambda: "default/later" in rig.store_pods())
        state = rig.informer.state()
    assert rig.list_requests() == []
    assert state.watch_requests == 1  # the same stream carried the initial state and the change
    assert len(rig.store_pods()) == 5
    assert state.lists == 1


def test_send_initial_events_falls_back_to_a_normal_list_on_error(
    cluster: SimHandle, tmp_path: Path
) -> None:
    _create_pods(cluster, 2)
    cluster.faults.fail_next(1, status=500, resource="pods")
    with informer_rig(cluster, tmp_path, options=ReflectorOptions(use_watch_list=True)) as rig:
        assert rig.informer.wait_for_sync(10)
        _watching(rig, 2)
    failed, watch = rig.watch_requests()
    assert failed.status == 500
    assert _query(failed)["sendInitialEvents"] == "true"
    assert watch.status == 200
    assert "sendInitialEvents" not in _query(watch)
    assert [r.status for r in rig.list_requests()] == [200]
    assert len(rig.store_pods()) == 2


def test_stop_wakes_a_reflector_blocked_in_a_watch_read(cluster: SimHandle, tmp_path: Path) -> None:
    with informer_rig(cluster, tmp_path, client_options=ClientOptions(read_timeout=60)) as rig:
        assert rig.informer.wait_for_sync(10)
        _watching(rig)
        rig.informer.stop()
        assert rig.informer.join(5)
        assert rig.informer.state().phase is Phase.STOPPED


def _client_for(sim: SimHandle, tmp_path: Path) -> KubeClient:
    return KubeClient.from_kubeconfig(sim.write_kubeconfig(tmp_path / "kc-lw"))
