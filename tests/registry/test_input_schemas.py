"""Input schemas: a resource whose transformer declares what it reads is decoded into just that,
and its documents must come out exactly as from the whole objects."""

from __future__ import annotations

import copy
import dataclasses
import random
from typing import Any

import msgspec
import orjson
import pytest

from informer_mirror.kube.decode import decode_event, decode_list
from informer_mirror.registry import ResourceSpec, build_registry
from informer_mirror.registry.transformers.pods import PodSpecView, PodStatusView
from informer_mirror.settings import ClusterSettings, Settings
from informer_mirror.sim.objects import populate
from informer_mirror.sim.state import ClusterState

REGISTRY = build_registry(Settings(cluster=ClusterSettings(name="c")))
WITH_SCHEMA = [spec for spec in REGISTRY if spec.input_schema is not None]


def _odd_pods(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """Shapes the simulated cluster rarely or never makes: evicted, waiting, terminating,
    no statuses yet, hostile types."""
    evicted = copy.deepcopy(pod)
    evicted["status"] = {"phase": "Failed", "reason": "Evicted", "message": "low on memory"}
    waiting = copy.deepcopy(pod)
    for st in waiting.get("status", {}).get("containerStatuses", []):
        st["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}
        st["restartCount"] = 7
        st["ready"] = False
    terminating = copy.deepcopy(pod)
    terminating["metadata"]["deletionTimestamp"] = "2026-11-26T03:00:00Z"
    terminating["metadata"]["finalizers"] = ["example.com/cleanup"]
    hostile = copy.deepcopy(pod)
    hostile["spec"]["nodeName"] = 42
    hostile["status"]["podIPs"] = "not a list"
    hostile["status"]["conditions"] = [{"type": 1, "status": None}, "junk"]
    return [evicted, waiting, terminating, hostile]


def _set(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``obj`` with the dotted ``path`` set to ``value``."""
    out = copy.deepcopy(obj)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return out


_SELECTOR = {"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "t", "operator": "Exists"}]}
_INIT = [{"name": "init", "image": "busybox:1"}]
# Fields every transformer reads that the simulated cluster does not always set.
_VARIANTS: dict[str, list[tuple[str, Any]]] = {
    "deployments": [
        ("spec.paused", True),
        ("spec.strategy", {"type": "Recreate"}),
        ("spec.selector", _SELECTOR),
        ("spec.template.spec.initContainers", _INIT),
    ],
    "statefulsets": [
        ("spec.podManagementPolicy", "Parallel"),
        ("spec.serviceName", "db-headless"),
        ("spec.updateStrategy", {"type": "OnDelete"}),
    ],
    "daemonsets": [
        ("spec.template.spec.nodeSelector", {"kubernetes.io/os": "linux"}),
        ("spec.updateStrategy", {"type": "OnDelete"}),
    ],
    "replicasets": [("spec.replicas", None), ("spec.template.spec.initContainers", _INIT)],
    "jobs": [
        ("spec.suspend", True),
        ("spec.completions", 5),
        ("spec.parallelism", 2),
        ("spec.backoffLimit", 3),
        ("spec.template.spec.initContainers", _INIT),
    ],
    "nodes": [
        ("spec.unschedulable", True),
        ("spec.taints", [{"key": "k", "value": "v", "effect": "NoSchedule"}]),
        ("metadata.labels", {"node-role.kubernetes.io/control-plane": ""}),
        ("status.addresses", [{"type": "Hostname", "address": "n1"}]),
    ],
    "cronjobs": [
        ("spec.timeZone", "Europe/Paris"),
        ("spec.concurrencyPolicy", "Forbid"),
        ("spec.suspend", True),
        ("spec.jobTemplate.spec.template.spec.initContainers", _INIT),
    ],
}


def _odd_objects(name: str, obj: dict[str, Any]) -> list[dict[str, Any]]:
    if name == "pods":
        return _odd_pods(obj)
    return [_set(obj, path, value) for path, value in _VARIANTS.get(name, [])]


@pytest.fixture(scope="module")
def cluster() -> ClusterState:
    state = ClusterState()
    populate(state, 2000, random.Random(5), clock=lambda: 1_700_000_000.0)
    return state


def test_pods_nodes_and_the_workload_kinds_declare_an_input_schema() -> None:
    assert sorted(spec.name for spec in WITH_SCHEMA) == [
        "cronjobs",
        "daemonsets",
        "deployments",
        "jobs",
        "nodes",
        "pods",
        "replicasets",
        "statefulsets",
    ]


@pytest.mark.parametrize("spec", WITH_SCHEMA, ids=lambda spec: spec.name)
def test_documents_from_the_schema_equal_documents_from_whole_objects(
    cluster: ClusterState, spec: ResourceSpec
) -> None:
    objects = cluster.list_objects(spec.name)
    assert objects, f"the simulated cluster has no {spec.name}"
    body = _page(objects)
    lean = decode_list(body, lean=True, schema=spec.input_schema)["items"]
    assert len(msgspec.json.encode(lean)) < len(body) / 2, "the schema leaves most out"
    _assert_same_documents(spec, lean, body)
    # each odd object in a page of its own: one that does not fit the schema sends its page
    # the general way, and its documents must not tell
    for odd in _odd_objects(spec.name, objects[0]):
        body = _page([*objects[:3], odd])
        _assert_same_documents(
            spec, decode_list(body, lean=True, schema=spec.input_schema)["items"], body
        )


def _page(objects: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"kind": "List", "metadata": {"resourceVersion": "9"}, "items": objects})


def _assert_same_documents(spec: ResourceSpec, decoded: list[Any], body: bytes) -> None:
    whole = orjson.loads(body)["items"]
    for slim, full in zip(decoded, whole, strict=True):
        assert spec.to_document(slim, cluster="c") == spec.to_document(full, cluster="c")


def test_pods_arrive_as_typed_views_and_a_mistyped_value_sends_its_page_the_lean_way(
    cluster: ClusterState,
) -> None:
    pod = cluster.list_objects("pods")[0]
    assert pod["metadata"].get("managedFields"), "the simulated Pod has managedFields to drop"
    schema = REGISTRY["pods"].input_schema
    items = decode_list(_page([pod, pod]), lean=True, schema=schema)["items"]
    assert [(type(p["spec"]), type(p["status"])) for p in items] == [
        (PodSpecView, PodStatusView)
    ] * 2
    hostile = _set(pod, "status.containerStatuses", [{"name": "app", "restartCount": "7"}])
    items = decode_list(_page([pod, hostile]), lean=True, schema=schema)["items"]
    assert [type(p["spec"]) for p in items] == [dict, dict]
    assert all("managedFields" not in p["metadata"] for p in items)


@pytest.mark.parametrize("spec", WITH_SCHEMA, ids=lambda spec: spec.name)
def test_a_watch_event_decodes_into_the_schema_but_an_error_keeps_its_whole_status(
    cluster: ClusterState, spec: ResourceSpec
) -> None:
    obj = cluster.list_objects(spec.name)[0]
    event = decode_event(
        orjson.dumps({"type": "MODIFIED", "object": obj}), lean=True, schema=spec.input_schema
    )
    assert event["type"] == "MODIFIED"
    assert spec.to_document(event["object"], cluster="c") == spec.to_document(obj, cluster="c")
    status = {"kind": "Status", "status": "Failure", "reason": "Expired", "code": 410}
    line = orjson.dumps({"type": "ERROR", "object": status})
    assert decode_event(line, lean=True, schema=spec.input_schema)["object"] == status


def test_a_page_off_the_schema_decodes_the_general_way() -> None:
    pods = REGISTRY["pods"]
    body = orjson.dumps({"items": [{"metadata": {"name": "a"}, "spec": {"containers": "x"}}]})
    assert decode_list(body, lean=True, schema=pods.input_schema)["items"] == [
        {"metadata": {"name": "a"}, "spec": {"containers": "x"}}
    ]
    # an item that is no object fits no schema: orjson decodes the page whole
    body = orjson.dumps({"kind": "PodList", "items": [{"metadata": {"name": "a"}}, 7]})
    assert decode_list(body, lean=True, schema=pods.input_schema) == orjson.loads(body)


def test_keeping_the_raw_object_decodes_it_whole() -> None:
    pods = REGISTRY["pods"]
    assert pods.decode_schema is pods.input_schema
    assert dataclasses.replace(pods, keep_raw=True).decode_schema is None
