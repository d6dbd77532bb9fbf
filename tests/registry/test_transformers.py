"""Every built-in transformer on realistic objects: a populated simulated cluster, every kind.

Each kind's document is checked for its exact field set and, field by field, against what the raw
object says (read independently here, e.g. readiness from the Ready condition, not from the
containers the transformer counts).
"""

from __future__ import annotations

import base64
from collections import Counter
from typing import Any

import orjson
import pytest

from informer_mirror.kinds import BUILTIN_KINDS
from informer_mirror.registry import Registry, build_registry
from informer_mirror.registry.redaction import LAST_APPLIED
from informer_mirror.registry.transformers.common import COMMON_FIELDS
from informer_mirror.settings import Settings

Objects = dict[str, list[dict[str, Any]]]
REGISTRY: Registry = build_registry(Settings())

EXPECTED_FIELDS: dict[str, set[str]] = {
    "namespaces": {"phase", "conditions"},
    "nodes": {
        "ready", "roles", "unschedulable", "taints", "podCIDR", "providerID", "capacity",
        "allocatable", "kubeletVersion", "containerRuntimeVersion", "osImage", "kernelVersion",
        "os", "architecture", "addresses", "internalIP", "conditions",
    },
    "pods": {
        "phase", "reason", "nodeName", "podIP", "podIPs", "hostIP", "qosClass", "startTime",
        "serviceAccountName", "ready", "readyContainers", "totalContainers", "restartCount",
        "containers", "initContainers", "conditions",
    },
    "services": {
        "type", "clusterIP", "clusterIPs", "externalIPs", "externalName", "loadBalancerIngress",
        "ports", "selector", "sessionAffinity",
    },
    "configmaps": {"keys", "data", "truncatedKeys", "binaryDataKeys", "totalBytes", "immutable"},
    "secrets": {"type", "immutable", "keys", "sizes"},
    "events": {
        "type", "reason", "message", "count", "involvedObject", "firstTimestamp",
        "lastTimestamp", "source", "sourceHost",
    },
    "persistentvolumeclaims": {
        "phase", "capacity", "requested", "storageClass", "accessModes", "volumeMode", "volumeName",
    },
    "persistentvolumes": {
        "phase", "capacity", "storageClass", "accessModes", "reclaimPolicy", "volumeMode",
        "claim", "source",
    },
    "serviceaccounts": {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    "deployments": {
        "replicas", "readyReplicas", "availableReplicas", "updatedReplicas",
        "unavailableReplicas", "strategy", "paused", "selector", "images", "observedGeneration",
        "conditions",
    },
    "statefulsets": {
        "replicas", "readyReplicas", "availableReplicas", "currentReplicas", "updatedReplicas",
        "strategy", "serviceName", "podManagementPolicy", "selector", "images",
        "observedGeneration", "conditions",
    },
    "daemonsets": {
        "replicas", "currentReplicas", "readyReplicas", "availableReplicas", "updatedReplicas",
        "misscheduled", "strategy", "nodeSelector", "selector", "images", "observedGeneration",
        "conditions",
    },
    "replicasets": {
        "replicas", "readyReplicas", "availableReplicas", "fullyLabeledReplicas", "selector",
        "images", "observedGeneration", "conditions",
    },
    "jobs": {
        "outcome", "completions", "parallelism", "backoffLimit", "suspend", "active",
        "succeeded", "failed", "startTime", "completionTime", "images", "conditions",
    },
    "cronjobs": {
        "schedule", "timeZone", "suspend", "concurrencyPolicy", "active", "activeJobs",
        "lastScheduleTime", "lastSuccessfulTime", "images",
    },
    "ingresses": {
        "ingressClass", "rules", "hosts", "tlsHosts", "defaultBackend", "loadBalancerIngress",
    },
    "networkpolicies": {
        "podSelector", "policyTypes", "ingressRules", "egressRules", "ingressFrom", "egressTo",
    },
    "horizontalpodautoscalers": {
        "scaleTargetRef", "minReplicas", "maxReplicas", "currentReplicas", "desiredReplicas",
        "lastScaleTime", "metrics", "conditions",
    },
    "endpointslices": {"serviceName", "addressType", "endpoints", "readyEndpoints", "ports"},
}  # fmt: skip


def docs(objects: Objects, plural: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(raw, document)`` for every object of ``plural`` in the populated cluster."""
    return [(o, REGISTRY.to_document(plural, o)) for o in objects[plural]]


def condition(obj: dict[str, Any], type_: str) -> str | None:
    found = [c["status"] for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_]
    return found[0] if found else None


def template_images(pod_spec: dict[str, Any]) -> list[str]:
    return [c["image"] for k in ("initContainers", "containers") for c in pod_spec.get(k, [])]


def test_every_kind_has_an_expected_field_set() -> None:
    assert set(EXPECTED_FIELDS) == {k.plural for k in BUILTIN_KINDS}


@pytest.mark.parametrize("plural", [k.plural for k in BUILTIN_KINDS])
def test_every_object_of_every_kind_transforms_into_a_complete_lean_document(
    plural: str, cluster_objects: Objects
) -> None:
    pairs = docs(cluster_objects, plural)
    assert pairs, f"the populated cluster has no {plural}"
    for raw, doc in pairs:
        assert "transformError" not in doc
        assert list(doc)[: len(COMMON_FIELDS)] == list(COMMON_FIELDS)
        assert set(doc) - set(COMMON_FIELDS) == EXPECTED_FIELDS[plural]
        assert doc["uid"] == raw["metadata"]["uid"]
        assert doc["resourceVersion"] == raw["metadata"]["resourceVersion"]
        encoded = orjson.dumps(doc)
        assert b"managedFields" not in encoded
        assert LAST_APPLIED.encode() not in encoded


def test_documents_are_a_fraction_of_the_raw_objects(cluster_objects: Objects) -> None:
    raw_bytes = doc_bytes = 0
    for plural in EXPECTED_FIELDS:
        for raw, doc in docs(cluster_objects, plural):
            raw_bytes += len(orjson.dumps(raw))
            doc_bytes += len(orjson.dumps(doc))
    assert doc_bytes < raw_bytes / 2


def test_pods_report_where_they_run_and_how_healthy_they_are(cluster_objects: Objects) -> None:
    states: Counter[tuple[str | None, str | None]] = Counter()
    for raw, doc in docs(cluster_objects, "pods"):
        spec, status = raw["spec"], raw["status"]
        assert doc["phase"] == status["phase"]
        assert doc["nodeName"] == spec["nodeName"]
        assert doc["podIP"] == status.get("podIP")
        assert doc["qosClass"] == status["qosClass"]
        assert [c["name"] for c in doc["containers"]] == [c["name"] for c in spec["containers"]]
        assert [c["image"] for c in doc["containers"]] == [c["image"] for c in spec["containers"]]
        all_statuses = status.get("containerStatuses", []) + status.get("initContainerStatuses", [])
        assert doc["restartCount"] == sum(s["restartCount"] for s in all_statuses)
        assert doc["totalContainers"] == len(spec["containers"])
        if doc["phase"] == "Running":
            assert doc["ready"] == (condition(raw, "Ready") == "True")
        states.update((c["state"], c["reason"]) for c in doc["containers"])
    assert states[("running", None)] > 0
    crashlooping = [
        d
        for _, d in docs(cluster_objects, "pods")
        if any(c["reason"] == "CrashLoopBackOff" for c in d["containers"])
    ]
    assert crashlooping
    assert all(d["restartCount"] > 0 and not d["ready"] for d in crashlooping)


def test_nodes_report_readiness_roles_taints_and_resources(cluster_objects: Objects) -> None:
    roles: set[str] = set()
    for raw, doc in docs(cluster_objects, "nodes"):
        assert doc["ready"] == (condition(raw, "Ready") == "True")
        assert doc["capacity"]["cpu"] == raw["status"]["capacity"]["cpu"]
        assert doc["allocatable"]["pods"] == raw["status"]["allocatable"]["pods"]
        assert doc["kubeletVersion"] == raw["status"]["nodeInfo"]["kubeletVersion"]
        internal = [a["address"] for a in raw["status"]["addresses"] if a["type"] == "InternalIP"]
        assert doc["internalIP"] == internal[0]
        assert len(doc["taints"]) == len(raw["spec"].get("taints", []))
        roles.update(doc["roles"])
    assert "control-plane" in roles


def test_workloads_share_replica_field_names_and_list_their_images(
    cluster_objects: Objects,
) -> None:
    for plural in ("deployments", "statefulsets", "replicasets"):
        for raw, doc in docs(cluster_objects, plural):
            assert doc["replicas"] == raw["spec"]["replicas"]
            assert doc["readyReplicas"] == raw["status"].get("readyReplicas", 0)
            assert doc["images"] == template_images(raw["spec"]["template"]["spec"])
            labels = raw["spec"]["selector"]["matchLabels"]
            assert doc["selector"] == ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    for raw, doc in docs(cluster_objects, "daemonsets"):
        assert doc["replicas"] == raw["status"]["desiredNumberScheduled"]
        assert doc["readyReplicas"] == raw["status"]["numberReady"]
    for raw, doc in docs(cluster_objects, "statefulsets"):
        assert doc["serviceName"] == raw["spec"]["serviceName"]


def test_jobs_and_cronjobs_report_outcome_schedule_and_activity(cluster_objects: Objects) -> None:
    outcomes = Counter(doc["outcome"] for _, doc in docs(cluster_objects, "jobs"))
    assert outcomes["Complete"] > 0
    assert outcomes["Running"] > 0
    for raw, doc in docs(cluster_objects, "jobs"):
        assert (doc["outcome"] == "Complete") == (condition(raw, "Complete") == "True")
        assert doc["completionTime"] == raw["status"].get("completionTime")
    for raw, doc in docs(cluster_objects, "cronjobs"):
        assert doc["schedule"] == raw["spec"]["schedule"]
        assert doc["active"] == len(raw["status"].get("active", []))
        job_pod_spec = raw["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert doc["images"] == template_images(job_pod_spec)


def test_services_endpointslices_ingresses_and_policies_keep_their_routing(
    cluster_objects: Objects,
) -> None:
    for raw, doc in docs(cluster_objects, "services"):
        assert doc["clusterIP"] == raw["spec"].get("clusterIP")
        assert [p["port"] for p in doc["ports"]] == [p["port"] for p in raw["spec"]["ports"]]
    for raw, doc in docs(cluster_objects, "endpointslices"):
        assert doc["serviceName"] == raw["metadata"]["labels"]["kubernetes.io/service-name"]
        assert doc["endpoints"] == len(raw.get("endpoints") or [])
        assert 0 <= doc["readyEndpoints"] <= doc["endpoints"]
    for raw, doc in docs(cluster_objects, "ingresses"):
        assert doc["hosts"] == sorted({r["host"] for r in raw["spec"]["rules"]})
        backend = raw["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        port = backend["port"].get("number", backend["port"].get("name"))
        assert doc["rules"][0]["paths"][0]["backend"] == f"{backend['name']}:{port}"
    for raw, doc in docs(cluster_objects, "networkpolicies"):
        assert doc["ingressRules"] == len(raw["spec"].get("ingress", []))
        assert set(doc["policyTypes"]) <= {"Ingress", "Egress"}


def test_storage_claims_and_volumes_point_at_each_other(cluster_objects: Objects) -> None:
    volumes = {doc["name"]: doc for _, doc in docs(cluster_objects, "persistentvolumes")}
    bound = 0
    for raw, doc in docs(cluster_objects, "persistentvolumeclaims"):
        assert doc["requested"] == raw["spec"]["resources"]["requests"]["storage"]
        if doc["phase"] == "Bound":
            pv = volumes[doc["volumeName"]]
            assert pv["claim"] == {"namespace": doc["namespace"], "name": doc["name"]}
            assert pv["phase"] == "Bound"
            bound += 1
    assert bound > 0


def test_events_keep_what_happened_to_which_object(cluster_objects: Objects) -> None:
    kinds = Counter()
    for raw, doc in docs(cluster_objects, "events"):
        assert doc["involvedObject"]["uid"] == raw["involvedObject"]["uid"]
        assert doc["type"] in ("Normal", "Warning")
        assert doc["count"] >= 1
        assert doc["lastTimestamp"] is not None
        kinds[doc["involvedObject"]["kind"]] += 1
    assert len(kinds) > 3


def test_configmaps_keep_keys_and_small_values(cluster_objects: Objects) -> None:
    for raw, doc in docs(cluster_objects, "configmaps"):
        data = raw.get("data", {})
        assert doc["keys"] == sorted(data)
        for key, value in data.items():
            if len(value.encode()) <= 1024:
                assert doc["data"][key] == value
            else:
                assert key in doc["truncatedKeys"]


def test_secrets_keep_keys_and_decoded_sizes_but_no_value(cluster_objects: Objects) -> None:
    for raw, doc in docs(cluster_objects, "secrets"):
        data = raw.get("data", {})
        assert doc["type"] == raw["type"]
        assert doc["keys"] == sorted(data)
        assert doc["sizes"] == {k: len(base64.b64decode(v)) for k, v in data.items()}
        encoded = orjson.dumps(doc)
        identity = orjson.dumps(raw["metadata"])
        for value in data.values():
            plain = base64.b64decode(value)
            if plain in identity:
                continue  # e.g. a username equal to the Secret's name: not a secret
            assert value.encode() not in encoded
            assert plain not in encoded


def test_hpas_report_targets_against_current_values(cluster_objects: Objects) -> None:
    for raw, doc in docs(cluster_objects, "horizontalpodautoscalers"):
        assert doc["scaleTargetRef"]["name"] == raw["spec"]["scaleTargetRef"]["name"]
        assert doc["maxReplicas"] == raw["spec"]["maxReplicas"]
        targets = [m["resource"]["target"]["averageUtilization"] for m in raw["spec"]["metrics"]]
        assert [m["target"] for m in doc["metrics"]] == targets
        assert all(isinstance(m["current"], int) for m in doc["metrics"])


def test_namespaces_and_service_accounts(cluster_objects: Objects) -> None:
    assert {doc["phase"] for _, doc in docs(cluster_objects, "namespaces")} == {"Active"}
    assert all(doc["namespace"] is None for _, doc in docs(cluster_objects, "namespaces"))
    for raw, doc in docs(cluster_objects, "serviceaccounts"):
        assert doc["secrets"] == [s["name"] for s in raw.get("secrets", [])]
