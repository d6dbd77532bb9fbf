"""Watches over real HTTP with the official client: events, bookmarks, timeouts, 410, selectors,
sendInitialEvents."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest
from kubernetes.client import CoreV1Api
from kubernetes.client.rest import ApiException
from kubernetes.watch import Watch

from informer_mirror.sim import SimHandle, start_sim
from informer_mirror.sim.state import ClusterState
from tests.helpers import namespace_obj, pod_obj, wait_until

READ_TIMEOUT = (5, 5)  # (connect, read) seconds: a broken test fails instead of hanging


def _setup(sim: SimHandle, *names: str) -> str:
    sim.state.create("namespaces", namespace_obj("default"))
    for name in names:
        sim.state.create("pods", pod_obj(name))
    return str(sim.state.resource_version)


def _take(stream: Iterator[dict[str, Any]], n: int, *, bookmarks: bool = False) -> list[Any]:
    out: list[Any] = []
    for event in stream:
        if event["type"] == "BOOKMARK" and not bookmarks:
            continue
        out.append(event)
        if len(out) == n:
            return out
    return out


def _summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["raw_object"]["metadata"].get("name", "")) for e in events]


def _once_watching(sim: SimHandle, action: Callable[[], None]) -> threading.Thread:
    """Run ``action`` on a thread as soon as the server has a watch open."""

    def run() -> None:
        wait_until(sim.server.watchers)
        action()

    thread = threading.Thread(target=run, name="test-writer")
    thread.start()
    return thread


def test_a_watch_from_the_list_resource_version_sees_changes_in_order(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    rv = _setup(sim, "a", "b")
    state = sim.state
    a = state.get("pods", "default", "a")
    a["status"] = {"phase": "Running"}
    state.update("pods", a)
    state.create("pods", pod_obj("c"))
    last_b = state.delete("pods", "default", "b")
    stream = Watch().stream(
        CoreV1Api(kube_api).list_namespaced_pod,
        "default",
        resource_version=rv,
        timeout_seconds=5,
        _request_timeout=READ_TIMEOUT,
    )
    events = _take(stream, 3)
    assert _summary(events) == [("MODIFIED", "a"), ("ADDED", "c"), ("DELETED", "b")]
    deleted = events[2]["raw_object"]
    assert deleted["kind"] == "Pod"
    assert deleted["apiVersion"] == "v1"
    assert int(deleted["metadata"]["resourceVersion"]) > int(last_b["metadata"]["resourceVersion"])
    assert deleted["metadata"]["uid"] == last_b["metadata"]["uid"]
    assert deleted["spec"] == last_b["spec"]


def test_a_watch_without_resource_version_starts_with_synthetic_added_events(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _setup(sim, "a", "b")
    writer = _once_watching(sim, lambda: sim.state.create("pods", pod_obj("live")))
    stream = Watch().stream(
        CoreV1Api(kube_api).list_namespaced_pod,
        "default",
        timeout_seconds=5,
        _request_timeout=READ_TIMEOUT,
    )
    assert _summary(_take(stream, 3)) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "live")]
    writer.join()


def test_bookmarks_carry_the_current_resource_version_and_advance_the_watch(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    rv = _setup(sim, "a")
    sim.state.create("namespaces", namespace_obj("other"))  # moves the global RV, not pods
    watch = Watch()
    stream = watch.stream(
        CoreV1Api(kube_api).list_namespaced_pod,
        "default",
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=5,
        _request_timeout=READ_TIMEOUT,
    )
    bookmark = _take(stream, 1, bookmarks=True)[0]
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["raw_object"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(sim.state.resource_version)},
    }
    assert watch.resource_version == str(sim.state.resource_version)
    watch.stop()


def test_a_watch_without_bookmarks_requested_gets_none(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    rv = _setup(sim, "a")
    stream = Watch().stream(
        CoreV1Api(kube_api).list_namespaced_pod,
        "default",
        resource_version=rv,
        timeout_seconds=1,
        _request_timeout=READ_TIMEOUT,
    )
    assert list(stream) == []


def test_the_stream_ends_cleanly_at_timeout_seconds_after_a_last_bookmark(tmp_path: Any) -> None:
    handle = start_sim(bookmark_interval=60.0, bookmark_before_end=0.5)
    try:
        rv = _setup(handle, "a")
        api = kubernetes.config.new_client_from_config(
            config_file=str(handle.write_kubeconfig(tmp_path / "kubeconfig"))
        )
        events = list(
            Watch().stream(
                CoreV1Api(api).list_namespaced_pod,
                "default",
                resource_version=rv,
                allow_watch_bookmarks=True,
                timeout_seconds=1,
                _request_timeout=READ_TIMEOUT,
            )
        )
        api.close()
    finally:
        handle.stop()
    assert [e["type"] for e in events] == ["BOOKMARK"]


def test_a_watch_from_an_expired_resource_version_gets_a_410_error_event(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    rv = _setup(sim, "a")
    sim.faults.expire_history("pods")
    v1 = CoreV1Api(kube_api)
    raw = v1.list_namespaced_pod("default", watch=True, resource_version=rv, _preload_content=False)
    assert raw.status == 200
    lines = [json.loads(line) for line in raw.data.splitlines()]
    assert len(lines) == 1
    assert lines[0]["type"] == "ERROR"
    status = lines[0]["object"]
    assert status["kind"] == "Status"
    assert status["code"] == 410
    assert status["reason"] == "Expired"
    assert status["message"] == f"too old resource version: {rv} ({sim.state.resource_version})"
    with pytest.raises(ApiException) as err:
        list(
            Watch().stream(
                v1.list_namespaced_pod,
                "default",
                resource_version=rv,
                timeout_seconds=5,
                _request_timeout=READ_TIMEOUT,
            )
        )
    assert err.value.status == 410


def test_a_watch_from_a_future_resource_version_gets_a_504_error_event(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _setup(sim, "a")
    future = str(sim.state.resource_version + 50)
    raw = CoreV1Api(kube_api).list_namespaced_pod(
        "default", watch=True, resource_version=future, _preload_content=False
    )
    event = json.loads(raw.data)
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 504
    assert event["object"]["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


def test_an_object_leaving_a_label_selection_is_sent_as_deleted(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    sim.state.create("namespaces", namespace_obj("default"))
    sim.state.create("pods", pod_obj("a", tier="web"))
    sim.state.create("pods", pod_obj("b", tier="db"))
    rv = str(sim.state.resource_version)
    a = sim.state.get("pods", "default", "a")
    a["metadata"]["labels"] = {"tier": "db"}
    moved = sim.state.update("pods", a)
    b = sim.state.get("pods", "default", "b")
    b["metadata"]["labels"] = {"tier": "web"}
    sim.state.update("pods", b)
    stream = Watch().stream(
        CoreV1Api(kube_api).list_namespaced_pod,
        "default",
        label_selector="tier=web",
        resource_version=rv,
        timeout_seconds=5,
        _request_timeout=READ_TIMEOUT,
    )
    events = _take(stream, 2)
    assert _summary(events) == [("DELETED", "a"), ("ADDED", "b")]
    left = events[0]["raw_object"]
    assert left["metadata"]["labels"] == {"tier": "web"}  # its last content that matched
    assert left["metadata"]["resourceVersion"] == moved["metadata"]["resourceVersion"]


def test_a_namespaced_watch_sees_only_its_namespace(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    rv = _setup(sim)
    sim.state.create("namespaces", namespace_obj("other"))
    sim.state.create("pods", pod_obj("away", namespace="other"))
    sim.state.create("pods", pod_obj("here"))
    stream = Watch().stream(
        CoreV1Api(kube_api).list_namespaced_pod,
        "default",
        resource_version=rv,
        timeout_seconds=5,
        _request_timeout=READ_TIMEOUT,
    )
    assert _summary(_take(stream, 1)) == [("ADDED", "here")]


def test_send_initial_events_ends_the_initial_state_with_an_annotated_bookmark(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _setup(sim, "a", "b")
    snapshot_rv = str(sim.state.resource_version)
    writer = _once_watching(sim, lambda: sim.state.create("pods", pod_obj("later")))
    stream = Watch().stream(
        CoreV1Api(kube_api).list_namespaced_pod,
        "default",
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        allow_watch_bookmarks=True,
        timeout_seconds=5,
        _request_timeout=READ_TIMEOUT,
    )
    events = _take(stream, 3, bookmarks=True)
    live = _take(stream, 1)
    writer.join()
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[2]["raw_object"]["metadata"] == {
        "resourceVersion": snapshot_rv,
        "annotations": {"k8s.io/initial-events-end": "true"},
    }
    assert _summary(live) == [("ADDED", "later")]


def test_send_initial_events_requires_resource_version_match_not_older_than(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _setup(sim, "a")
    with pytest.raises(ApiException) as err:
        CoreV1Api(kube_api).list_namespaced_pod(
            "default", watch=True, send_initial_events=True, _preload_content=False
        )
    assert err.value.status == 422
    status = json.loads(err.value.body)
    assert status["reason"] == "Invalid"
    assert (
        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
        in (status["message"])
    )


def test_a_watcher_that_falls_too_far_behind_is_closed_cleanly() -> None:
    state = ClusterState(history_size=3)
    state.create("namespaces", namespace_obj("default"))
    watcher = state.watch("pods", since_rv=state.resource_version)
    for i in range(5):
        state.create("pods", pod_obj(f"p{i}"))
    work = watcher.next_work(wake_at=0.0, bookmark_due=False, stop=threading.Event())
    watcher.unregister()
    assert work.end
    assert not work.events


def test_a_watch_whose_client_went_away_is_cleaned_up_without_any_event(sim: SimHandle) -> None:
    rv = _setup(sim)
    sock = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
    request = f"GET /api/v1/namespaces/default/pods?watch=1&resourceVersion={rv} HTTP/1.1\r\n"
    sock.sendall(request.encode() + b"Host: sim\r\n\r\n")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
    wait_until(sim.server.watchers)
    sock.close()
    wait_until(lambda: not sim.server.watchers(), timeout=5)
