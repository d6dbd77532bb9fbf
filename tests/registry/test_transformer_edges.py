"""Transformers on the objects nobody plans for: missing fields, nulls, wrong types, mutations."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from informer_mirror.kinds import BUILTIN_KINDS
from informer_mirror.registry import build_registry
from informer_mirror.registry.spec import ResourceSpec
from informer_mirror.registry.transformers.common import TransformOptions
from informer_mirror.settings import Settings
from tests.registry.realistic import populated_cluster

REGISTRY = build_registry(Settings())
PLURALS = [k.plural for k in BUILTIN_KINDS]
Objects = dict[str, list[dict[str, Any]]]


def fields(plural: str, obj: Any, options: TransformOptions | None = None) -> dict[str, Any]:
    """The transformer called directly (not through to_document, which would hide a raise)."""
    spec = REGISTRY[plural]
    result = spec.transformer(obj, options or spec.options)
    orjson.dumps(result)  # what the Store does next: must be JSON
    return result


@pytest.mark.parametrize("plural", PLURALS)
@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"metadata": {"name": "x"}},
        {"metadata": None, "spec": None, "status": None},
        {"spec": [], "status": "Running", "metadata": 3},
        {"spec": {"template": None, "selector": None, "ports": None, "rules": None}},
        {"spec": {"containers": [None, 1, {"name": None}]}, "status": {"conditions": [None]}},
        {"data": None, "involvedObject": None, "endpoints": None, "secrets": "x"},
        {"data": {"k": 1, "2": None}, "endpoints": [{"conditions": None}], "ports": [5]},
    ],
)
def test_a_transformer_never_raises_on_missing_null_or_mistyped_fields(
    plural: str, obj: dict[str, Any]
) -> None:
    fields(plural, obj)


@pytest.mark.parametrize("plural", PLURALS)
def test_a_transformer_does_not_mutate_the_object(plural: str, cluster_objects: Objects) -> None:
    obj = cluster_objects[plural][0]
    before = copy.deepcopy(obj)
    fields(plural, obj)
    assert obj == before


def test_omitted_replicas_default_to_one_as_on_the_server() -> None:
    for plural in ("deployments", "statefulsets", "replicasets"):
        assert fields(plural, {"spec": {}})["replicas"] == 1
    assert fields("deployments", {"spec": {"replicas": 0}})["replicas"] == 0
    assert fields("horizontalpodautoscalers", {"spec": {}})["minReplicas"] == 1


def test_a_pending_pod_without_statuses_has_unready_containers() -> None:
    pod = {
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
        "status": {"phase": "Pending"},
    }
    doc = fields("pods", pod)
    assert doc["containers"] == [
        {
            "name": "app",
            "image": "app:1",
            "ready": False,
            "restartCount": 0,
            "state": None,
            "reason": None,
        }
    ]
    assert (doc["ready"], doc["readyContainers"], doc["totalContainers"]) == (False, 0, 1)


def test_a_pod_without_containers_is_not_ready() -> None:
    assert fields("pods", {"spec": {"containers": []}})["ready"] is False


def test_init_container_restarts_count_too() -> None:
    pod = {
        "spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "app"}]},
        "status": {
            "initContainerStatuses": [
                {"name": "init", "restartCount": 2, "state": {"terminated": {}}}
            ],
            "containerStatuses": [{"name": "app", "restartCount": 1, "ready": True}],
        },
    }
    doc = fields("pods", pod)
    assert doc["restartCount"] == 3
    assert doc["initContainers"][0]["state"] == "terminated"


def test_configmap_values_beyond_the_cap_are_cut_on_a_character_boundary_and_flagged() -> None:
    cm = {"data": {"small": "ok", "big": "é" * 10, "exact": "abcd"}, "binaryData": {"blob": "AAAA"}}
    doc = fields("configmaps", cm, TransformOptions(configmap_value_cap=4))
    assert doc["data"] == {"small": "ok", "big": "éé", "exact": "abcd"}
    assert doc["truncatedKeys"] == ["big"]
    assert doc["binaryDataKeys"] == ["blob"]
    assert doc["totalBytes"] == 2 + 20 + 4


def test_a_configmap_cap_of_zero_keeps_keys_only() -> None:
    doc = fields(
        "configmaps", {"data": {"a": "1", "b": ""}}, TransformOptions(configmap_value_cap=0)
    )
    assert (doc["keys"], doc["data"], doc["truncatedKeys"]) == (["a", "b"], {}, ["a"])


def test_long_event_messages_are_cut_with_an_ellipsis() -> None:
    doc = fields("events", {"message": "x" * 50}, TransformOptions(message_cap=10))
    assert doc["message"] == "x" * 9 + "…"


def test_a_series_event_takes_its_count_and_last_time_from_the_series() -> None:
    event = {
        "series": {"count": 7, "lastObservedTime": "2026-01-01T00:00:00.000000Z"},
        "eventTime": "t0",
    }
    doc = fields("events", event)
    assert (doc["count"], doc["lastTimestamp"], doc["firstTimestamp"]) == (
        7,
        "2026-01-01T00:00:00.000000Z",
        "t0",
    )
    assert fields("events", {})["count"] == 1


def test_job_outcomes() -> None:
    def outcome(status: dict[str, Any], spec: dict[str, Any] | None = None) -> str:
        return str(fields("jobs", {"spec": spec or {}, "status": status})["outcome"])

    assert outcome({"conditions": [{"type": "Complete", "status": "True"}]}) == "Complete"
    assert outcome({"conditions": [{"type": "SuccessCriteriaMet", "status": "True"}]}) == "Complete"
    assert outcome({"conditions": [{"type": "Failed", "status": "True"}]}) == "Failed"
    assert (
        outcome({"conditions": [{"type": "Failed", "status": "False"}], "active": 1}) == "Running"
    )
    assert outcome({}, {"suspend": True}) == "Suspended"
    assert outcome({}) == "Pending"


def test_network_policy_types_default_as_the_server_defaults_them() -> None:
    assert fields("networkpolicies", {"spec": {}})["policyTypes"] == ["Ingress"]
    assert fields("networkpolicies", {"spec": {"egress": [{}]}})["policyTypes"] == [
        "Ingress",
        "Egress",
    ]


def test_label_selectors_render_every_operator() -> None:
    selector = {
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["web", "api"]},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "canary", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
            {"operator": "In", "values": ["ignored: no key"]},
        ],
    }
    doc = fields("deployments", {"spec": {"selector": selector}})
    assert doc["selector"] == "a=1,b=2,tier in (web,api),env notin (dev),canary,!legacy"
    assert fields("networkpolicies", {"spec": {"podSelector": {}}})["podSelector"] == ""


def test_endpoints_with_unknown_readiness_count_as_ready() -> None:
    slice_ = {"endpoints": [{"conditions": {"ready": False}}, {"conditions": {}}, {}]}
    assert fields("endpointslices", slice_)["readyEndpoints"] == 2


def test_ingress_class_backends_and_tls() -> None:
    ingress = {
        "metadata": {"annotations": {"kubernetes.io/ingress.class": "traefik"}},
        "spec": {
            "defaultBackend": {"resource": {"kind": "StorageBucket", "name": "static"}},
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "backend": {"service": {"name": "web", "port": {"name": "http"}}},
                            }
                        ]
                    }
                },
                {"host": "b.example.com"},
            ],
            "tls": [{"hosts": ["b.example.com", "a.example.com"]}, {"secretName": "x"}],
        },
    }
    doc = fields("ingresses", ingress)
    assert doc["ingressClass"] == "traefik"
    assert doc["defaultBackend"] == "StorageBucket/static"
    assert doc["rules"][0] == {
        "host": None,
        "paths": [{"path": "/", "pathType": None, "backend": "web:http"}],
    }
    assert doc["hosts"] == ["b.example.com"]
    assert doc["tlsHosts"] == ["a.example.com", "b.example.com"]


def test_service_target_ports_may_be_numbers_or_names() -> None:
    service = {
        "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": "https"}]}
    }
    assert [p["targetPort"] for p in fields("services", service)["ports"]] == [8080, "https"]


def test_hpa_metrics_of_every_source_type() -> None:
    hpa = {
        "spec": {
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "rps"},
                        "target": {"type": "AverageValue", "averageValue": "100"},
                    },
                },
                {
                    "type": "External",
                    "external": {
                        "metric": {"name": "queue"},
                        "target": {"type": "Value", "value": "30"},
                    },
                },
                {"type": "Bogus"},
            ]
        },
        "status": {
            "currentMetrics": [
                {
                    "type": "Pods",
                    "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "80"}},
                }
            ]
        },
    }
    assert fields("horizontalpodautoscalers", hpa)["metrics"] == [
        {
            "type": "Pods",
            "name": "rps",
            "targetType": "AverageValue",
            "target": "100",
            "current": "80",
        },
        {
            "type": "External",
            "name": "queue",
            "targetType": "Value",
            "target": "30",
            "current": None,
        },
        {"type": "Bogus", "name": None, "targetType": None, "target": None, "current": None},
    ]


def test_a_persistent_volume_names_its_in_tree_source() -> None:
    assert (
        fields("persistentvolumes", {"spec": {"hostPath": {"path": "/data"}}})["source"]
        == "hostPath"
    )
    assert fields("persistentvolumes", {"spec": {}})["claim"] is None


# --- hypothesis: realistic objects, randomly damaged -------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def damage(obj: dict[str, Any], path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    """A copy of ``obj`` with the value at ``path`` replaced by ``value`` (or deleted)."""
    root: Any = copy.deepcopy(obj)
    if not path:
        return value
    parent = root
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return root  # an earlier damage removed the path
    try:
        if delete:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        pass
    return root


@pytest.mark.parametrize("plural", PLURALS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_transformer_never_raises_on_a_randomly_damaged_realistic_object(
    plural: str, data: st.DataObject
) -> None:
    obj = data.draw(st.sampled_from(populated_cluster()[plural][:5]))
    all_paths = list(paths(obj))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        path = data.draw(st.sampled_from(all_paths))
        obj = damage(obj, path, data.draw(JSON), data.draw(st.booleans()))
    fields(plural, obj)
    spec: ResourceSpec = REGISTRY[plural]
    assert "transformError" not in spec.to_document(obj, cluster="c")
