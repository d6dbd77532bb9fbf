"""KubeListerWatcher over real HTTP: list parsing, watch line splitting, errors inside streams."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from informer_mirror.errors import KubeConnectionError, KubeExpiredError, KubeTimeoutError
from informer_mirror.kinds import BUILTIN_BY_PLURAL
from informer_mirror.kube import (
    ApiResource,
    ClientOptions,
    KubeClient,
    KubeListerWatcher,
    MalformedEvent,
    WatchEvent,
)
from informer_mirror.sim import SimHandle
from tests.helpers import pod_obj
from tests.kube.scripted import Reply, ScriptedServer, scripted_server, write_kubeconfig

PODS = ApiResource.from_kind(BUILTIN_BY_PLURAL["pods"])


def _lw(tmp_path: Path, url: str, read_timeout: float = 10.0) -> KubeListerWatcher:
    client = KubeClient.from_kubeconfig(
        write_kubeconfig(tmp_path / "kubeconfig", url),
        options=ClientOptions(read_timeout=read_timeout),
    )
    return KubeListerWatcher(client, PODS)


def _pod(name: str, rv: str) -> dict[str, object]:
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "resourceVersion": rv,
        }
    }


def _watch_all(
    tmp_path: Path, reply: Reply, **kwargs: object
) -> tuple[list[WatchEvent | MalformedEvent], ScriptedServer]:
    """Open one watch against a server scripted with ``reply`` and read it to the end."""
    params: dict[str, Any] = {"resource_version": "4", "timeout_seconds": 300, **kwargs}
    with scripted_server(reply) as server, _lw(tmp_path, server.url).watch(**params) as watch:
        return list(watch), server


def _event(etype: str, obj: dict[str, object]) -> bytes:
    return orjson.dumps({"type": etype, "object": obj}) + b"\n"


def test_an_api_resource_builds_core_group_and_namespaced_paths() -> None:
    assert PODS.path == "/api/v1/pods"
    deployments = ApiResource.from_kind(BUILTIN_BY_PLURAL["deployments"], namespace="ns1")
    assert deployments.path == "/apis/apps/v1/namespaces/ns1/deployments"
    assert deployments.api_version == "apps/v1"
    assert deployments.name == "deployments.apps"
    nodes = ApiResource.from_kind(BUILTIN_BY_PLURAL["nodes"], namespace="ignored")
    assert nodes.path == "/api/v1/nodes"


def test_list_items_get_kind_and_api_version_from_the_list(tmp_path: Path) -> None:
    body = orjson.dumps(
        {
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "42", "continue": "tok"},
            "items": [_pod("a", "40"), _pod("b", "41")],
        }
    )
    with scripted_server(Reply(chunks=[body[:30], body[30:]])) as server:
        page = _lw(tmp_path, server.url).list_page(
            resource_version="0", limit=500, continue_token=None
        )
    assert page.resource_version == "42"
    assert page.continue_token == "tok"
    assert [(i["kind"], i["apiVersion"]) for i in page.items] == [("Pod", "v1"), ("Pod", "v1")]
    assert server.requests[0].query == {"resourceVersion": "0", "limit": "500"}


def test_built_in_kinds_decode_without_managed_fields_and_custom_resources_whole(
    tmp_path: Path,
) -> None:
    managed = [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {}}}]
    item = {"metadata": {"name": "a", "uid": "u", "managedFields": managed}, "extra": 1}
    body = orjson.dumps({"metadata": {"resourceVersion": "9"}, "items": [item]})
    widgets = ApiResource(
        group="example.com", version="v1", plural="widgets", kind="Widget", namespaced=True
    )
    # same path as Pods, another kind: not the built-in one
    impostor = ApiResource(group="", version="v1", plural="pods", kind="Imp", namespaced=True)
    assert PODS.builtin
    assert not widgets.builtin
    assert not impostor.builtin
    pages = {}
    for resource in (PODS, widgets):
        with scripted_server(Reply(chunks=[body])) as server:
            client = KubeClient.from_kubeconfig(write_kubeconfig(tmp_path / "kc", server.url))
            lw = KubeListerWatcher(client, resource)
            pages[resource.kind] = lw.list_page(resource_version="", limit=500, continue_token=None)
    assert pages["Pod"].items == [
        {"metadata": {"name": "a", "uid": "u"}, "kind": "Pod", "apiVersion": "v1"}
    ]
    assert pages["Widget"].items == [{**item, "kind": "Widget", "apiVersion": "example.com/v1"}]


def test_a_continue_page_carries_no_resource_version(tmp_path: Path) -> None:
    body = orjson.dumps({"kind": "PodList", "metadata": {"resourceVersion": "42"}, "items": []})
    with scripted_server(Reply(chunks=[body])) as server:
        _lw(tmp_path, server.url).list_page(resource_version=None, limit=500, continue_token="abc")
    assert server.requests[0].query == {"limit": "500", "continue": "abc"}


def test_watch_lines_split_across_chunks_are_reassembled(tmp_path: Path) -> None:
    stream = _event("ADDED", _pod("a", "5")) + b"\n" + _event("MODIFIED", _pod("a", "6"))
    stream += _event("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": "7"}})
    chunks = [stream[:7], stream[7:60], stream[60:61], stream[61:]]
    events, server = _watch_all(tmp_path, Reply(chunks=chunks))
    assert [e.type for e in events if isinstance(e, WatchEvent)] == [
        "ADDED",
        "MODIFIED",
        "BOOKMARK",
    ]
    assert all(isinstance(e, WatchEvent) for e in events)
    assert server.requests[0].query == {
        "watch": "true",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "300",
        "resourceVersion": "4",
    }


def test_a_final_line_without_a_newline_is_still_delivered(tmp_path: Path) -> None:
    line = _event("ADDED", _pod("a", "5")).rstrip(b"\n")
    events, _ = _watch_all(tmp_path, Reply(chunks=[line]))
    assert len(events) == 1
    assert isinstance(events[0], WatchEvent)


def test_garbage_lines_are_reported_as_malformed_and_the_stream_goes_on(tmp_path: Path) -> None:
    chunks = [
        b"this is not json\n",
        b"[1, 2]\n",
        b'{"type": "ADDED"}\n',
        _event("ADDED", _pod("a", "5")),
    ]
    events, _ = _watch_all(tmp_path, Reply(chunks=chunks))
    assert [type(e) for e in events] == [MalformedEvent] * 3 + [WatchEvent]
    first = events[0]
    assert isinstance(first, MalformedEvent)
    assert first.line == b"this is not json"


def test_an_expired_error_event_inside_a_200_stream_raises_expired(tmp_path: Path) -> None:
    status = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old: 3 (50)"}
    chunks = [_event("ADDED", _pod("a", "5")), _event("ERROR", status)]
    with scripted_server(Reply(chunks=chunks)) as server:
        watch = _lw(tmp_path, server.url).watch(resource_version="4", timeout_seconds=300)
        events = iter(watch)
        assert isinstance(next(events), WatchEvent)
        with pytest.raises(KubeExpiredError, match="too old"):
            next(events)
    assert watch.closed


def test_a_stalled_watch_times_out_with_a_timeout_error(tmp_path: Path) -> None:
    hold = threading.Event()
    with scripted_server(Reply(chunks=[_event("ADDED", _pod("a", "5"))], hold=hold)) as server:
        watch = _lw(tmp_path, server.url, read_timeout=0.3).watch(
            resource_version="4", timeout_seconds=300
        )
        events = iter(watch)
        assert isinstance(next(events), WatchEvent)
        with pytest.raises(KubeTimeoutError):
            next(events)
        hold.set()


def test_a_connection_dropped_mid_stream_is_a_connection_error(tmp_path: Path) -> None:
    reply = Reply(chunks=[_event("ADDED", _pod("a", "5"))], end_cleanly=False)
    with scripted_server(reply) as server:
        watch = _lw(tmp_path, server.url).watch(resource_version="4", timeout_seconds=300)
        events = iter(watch)
        assert isinstance(next(events), WatchEvent)
        with pytest.raises(KubeConnectionError):
            next(events)


def test_closing_the_lister_watcher_wakes_a_reader_blocked_on_a_silent_watch(
    tmp_path: Path,
) -> None:
    hold = threading.Event()
    outcome: list[object] = []
    with scripted_server(Reply(chunks=[], hold=hold)) as server:
        lw = _lw(tmp_path, server.url, read_timeout=60)
        watch = lw.watch(resource_version="4", timeout_seconds=300)

        def read() -> None:
            try:
                outcome.append(list(watch))
            except Exception as e:
                outcome.append(e)

        reader = threading.Thread(target=read, name="reader")
        reader.start()
        lw.close()
        reader.join(10)
        alive = reader.is_alive()
        hold.set()
    assert not alive
    assert outcome == [[]]  # a requested stop ends the iteration quietly


def test_a_closed_lister_watcher_refuses_new_requests(tmp_path: Path) -> None:
    with scripted_server(Reply()) as server:
        lw = _lw(tmp_path, server.url)
        lw.close()
        with pytest.raises(KubeConnectionError, match="closed"):
            lw.watch(resource_version="1", timeout_seconds=300)
    assert server.requests == []


def test_send_initial_events_asks_for_not_older_than(tmp_path: Path) -> None:
    _, server = _watch_all(
        tmp_path, Reply(chunks=[]), resource_version="", send_initial_events=True
    )
    query = server.requests[0].query
    assert query["sendInitialEvents"] == "true"
    assert query["resourceVersionMatch"] == "NotOlderThan"
    assert "resourceVersion" not in query


def test_the_sim_lists_and_watches_pods_as_raw_dicts(sim: SimHandle, kubeconfig: Path) -> None:
    sim.state.create("namespaces", {"metadata": {"name": "default"}})
    created = sim.state.create("pods", pod_obj("web"))
    lw = KubeListerWatcher(KubeClient.from_kubeconfig(kubeconfig), PODS)
    page = lw.list_page(resource_version="0", limit=500, continue_token=None)
    assert [(p["kind"], p["apiVersion"], p["metadata"]["name"]) for p in page.items] == [
        ("Pod", "v1", "web")
    ]
    assert page.resource_version == str(sim.state.resource_version)
    with lw.watch(resource_version=page.resource_version, timeout_seconds=300) as watch:
        events = iter(watch)
        sim.state.delete("pods", "default", "web")
        event = next(e for e in events if isinstance(e, WatchEvent) and e.type != "BOOKMARK")
    assert event.type == "DELETED"
    assert event.object["metadata"]["uid"] == created["metadata"]["uid"]
