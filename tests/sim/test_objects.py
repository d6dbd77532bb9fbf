"""The simulated cluster's objects: one factory per built-in kind producing what a real API server
returns, and ``populate`` building a consistent, realistically proportioned cluster."""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from informer_mirror.kinds import BUILTIN_KINDS, KindInfo
from informer_mirror.sim.objects import (
    EVENT_SHARE,
    make_configmap,
    make_cronjob,
    make_custom,
    make_daemonset,
    make_deployment,
    make_endpointslice,
    make_event,
    make_horizontalpodautoscaler,
    make_ingress,
    make_job,
    make_namespace,
    make_networkpolicy,
    make_node,
    make_persistentvolume,
    make_persistentvolumeclaim,
    make_pod,
    make_pod_template,
    make_replicaset,
    make_secret,
    make_service,
    make_serviceaccount,
    make_statefulset,
    populate,
)
from informer_mirror.sim.objects_catalog import BATCH_APPS, NODE_AGENTS, STATEFUL_APPS
from informer_mirror.sim.objects_meta import LAST_APPLIED
from informer_mirror.sim.objects_network import endpoints_for
from informer_mirror.sim.state import ClusterState
from tests.sim.cluster_checks import (
    owner_chain_problems,
    reference_problems,
    without_server_identity,
)

NOW = 1_750_000_000.0
SERVER_SET = ("uid", "resourceVersion", "creationTimestamp", "generation")
CAMEL = re.compile(r"^[a-z][A-Za-z0-9]*$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# maps whose keys are data, not field names
FREE_FORM = {
    "labels",
    "annotations",
    "data",
    "matchLabels",
    "selector",
    "nodeSelector",
    "fieldsV1",
    "capacity",
    "allocatable",
    "requests",
    "limits",
    "volumeAttributes",
    "daemonEndpoints",
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "namespaces": ("spec.finalizers", "status.phase"),
    "nodes": (
        "spec.podCIDR",
        "status.capacity.cpu",
        "status.allocatable.memory",
        "status.conditions",
        "status.addresses",
        "status.nodeInfo.kubeletVersion",
        "status.nodeInfo.osImage",
        "status.nodeInfo.architecture",
    ),
    "pods": (
        "metadata.ownerReferences",
        "spec.containers",
        "spec.nodeName",
        "spec.volumes",
        "status.phase",
        "status.conditions",
        "status.containerStatuses",
        "status.podIP",
        "status.podIPs",
        "status.hostIP",
        "status.qosClass",
    ),
    "services": ("spec.ports", "spec.clusterIP", "spec.clusterIPs", "spec.type", "spec.selector"),
    "configmaps": ("data",),
    "secrets": ("type", "data"),
    "events": (
        "involvedObject.uid",
        "reason",
        "message",
        "type",
        "source.component",
        "firstTimestamp",
        "lastTimestamp",
        "count",
    ),
    "persistentvolumeclaims": (
        "spec.accessModes",
        "spec.storageClassName",
        "spec.resources.requests.storage",
        "status.phase",
    ),
    "persistentvolumes": (
        "spec.capacity.storage",
        "spec.claimRef.uid",
        "spec.accessModes",
        "spec.csi.volumeHandle",
        "status.phase",
    ),
    "serviceaccounts": ("metadata.name",),
    "deployments": (
        "spec.replicas",
        "spec.selector.matchLabels",
        "spec.template.spec.containers",
        "spec.strategy.rollingUpdate",
        "status.replicas",
        "status.readyReplicas",
        "status.conditions",
    ),
    "statefulsets": (
        "spec.serviceName",
        "spec.volumeClaimTemplates",
        "spec.template.spec.containers",
        "status.readyReplicas",
        "status.currentRevision",
    ),
    "daemonsets": (
        "spec.selector.matchLabels",
        "spec.template.spec.containers",
        "status.desiredNumberScheduled",
        "status.numberReady",
    ),
    "replicasets": (
        "metadata.ownerReferences",
        "spec.replicas",
        "spec.template.spec.containers",
        "status.replicas",
        "status.readyReplicas",
    ),
    "jobs": ("metadata.ownerReferences", "spec.template", "spec.completions", "status.startTime"),
    "cronjobs": ("spec.schedule", "spec.suspend", "spec.jobTemplate.spec.template"),
    "ingresses": ("spec.ingressClassName", "spec.rules", "spec.tls", "status.loadBalancer.ingress"),
    "networkpolicies": ("spec.podSelector", "spec.policyTypes", "spec.ingress"),
    "horizontalpodautoscalers": (
        "spec.scaleTargetRef.name",
        "spec.minReplicas",
        "spec.maxReplicas",
        "spec.metrics",
        "status.currentReplicas",
        "status.desiredReplicas",
        "status.currentMetrics",
        "status.conditions",
    ),
    "endpointslices": (
        "metadata.ownerReferences",
        "addressType",
        "endpoints",
        "ports",
    ),
}


def _get(obj: dict[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        assert isinstance(value, dict) and part in value, f"missing {path}"
        value = value[part]
    return value


def _one_of_each_kind(rng: random.Random) -> tuple[ClusterState, dict[str, dict[str, Any]]]:
    """One object per built-in kind, straight from its factory; owners are created in a state
    first, as the factories require."""
    state = ClusterState(clock=lambda: NOW)
    made: dict[str, dict[str, Any]] = {}

    def create(plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        made[plural] = obj
        return state.create(plural, obj)

    create("namespaces", make_namespace(rng, name="shop", now=NOW))
    create(
        "nodes",
        make_node(
            rng,
            name="node-1",
            internal_ip="10.0.0.10",
            pod_cidr="10.128.0.0/24",
            zone="eu-west-1a",
            images=["docker.io/library/nginx:1.27.0"],
            now=NOW,
        ),
    )
    template = make_pod_template(rng, app="cart", namespace="shop", labels={"app": "cart"})
    dep = create(
        "deployments",
        make_deployment(
            rng,
            namespace="shop",
            name="cart",
            replicas=2,
            template=template,
            pod_template_hash="5d8f7c9b4",
            now=NOW,
        ),
    )
    rs = create(
        "replicasets",
        make_replicaset(
            rng, deployment=dep, pod_template_hash="5d8f7c9b4", replicas=2, revision=1, now=NOW
        ),
    )
    pod = create(
        "pods",
        make_pod(
            rng,
            namespace="shop",
            name="cart-5d8f7c9b4-x7k2p",
            node_name="node-1",
            owner=rs,
            template=rs["spec"]["template"],
            now=NOW,
        ),
    )
    svc = create(
        "services",
        make_service(
            rng,
            namespace="shop",
            name="cart",
            selector={"app": "cart"},
            ports=[("http", 80, "http", "TCP")],
            cluster_ip="10.96.12.34",
            now=NOW,
        ),
    )
    create(
        "endpointslices",
        make_endpointslice(
            rng, service=svc, endpoints=endpoints_for([pod]), ports=[("http", 8080, "TCP")], now=NOW
        ),
    )
    create("configmaps", make_configmap(rng, namespace="shop", name="cart-config", now=NOW))
    create("secrets", make_secret(rng, namespace="shop", name="cart-db", now=NOW))
    create("events", make_event(rng, involved=pod, reason="Pulled", now=NOW))
    pvc = create(
        "persistentvolumeclaims",
        make_persistentvolumeclaim(
            rng, namespace="shop", name="data-cart-db-0", storage_class="gp3", now=NOW
        ),
    )
    create("persistentvolumes", make_persistentvolume(rng, claim=pvc, zone="eu-west-1a", now=NOW))
    create("serviceaccounts", make_serviceaccount(rng, namespace="shop", name="cart", now=NOW))
    db_template = make_pod_template(
        rng,
        app="cart",
        namespace="shop",
        labels={"app": "cart-db"},
        profile=STATEFUL_APPS[1],
        claim_volumes=("data",),
    )
    create(
        "statefulsets",
        make_statefulset(
            rng,
            namespace="shop",
            name="cart-db",
            replicas=1,
            template=db_template,
            service_name="cart-db",
            revision_hash="6b9c8d7f5",
            storage_class="gp3",
            now=NOW,
        ),
    )
    agent = NODE_AGENTS[1][2]
    agent_template = make_pod_template(
        rng, app="agent", namespace="shop", labels={"app": "agent"}, profile=agent
    )
    create(
        "daemonsets",
        make_daemonset(rng, namespace="shop", name="agent", template=agent_template, nodes=1),
    )
    job_template = make_pod_template(
        rng,
        app="cart",
        namespace="shop",
        labels={"app": "cart-cleanup"},
        profile=BATCH_APPS[0],
        restart_policy="Never",
    )
    cj = create(
        "cronjobs",
        make_cronjob(
            rng,
            namespace="shop",
            name="cart-cleanup",
            template=job_template,
            schedule="*/15 * * * *",
            now=NOW,
        ),
    )
    create(
        "jobs",
        make_job(
            rng,
            namespace="shop",
            name="cart-cleanup-29166666",
            template=cj["spec"]["jobTemplate"]["spec"]["template"],
            owner=cj,
            now=NOW,
        ),
    )
    create(
        "ingresses",
        make_ingress(
            rng,
            namespace="shop",
            name="cart",
            host="cart.example.com",
            service="cart",
            port=80,
            tls_secret="cart-tls",
            now=NOW,
        ),
    )
    create(
        "networkpolicies",
        make_networkpolicy(
            rng, namespace="shop", name="cart-ingress", app="cart", port=8080, now=NOW
        ),
    )
    create(
        "horizontalpodautoscalers",
        make_horizontalpodautoscaler(
            rng, namespace="shop", name="cart", target=dep, current_replicas=2, now=NOW
        ),
    )
    return state, made


@pytest.fixture(scope="module")
def one_of_each() -> tuple[ClusterState, dict[str, dict[str, Any]]]:
    return _one_of_each_kind(random.Random(3))


@pytest.fixture(scope="module")
def populated() -> Iterator[tuple[ClusterState, dict[str, int]]]:
    state = ClusterState(clock=lambda: NOW)
    counts = populate(state, 3000, random.Random(11), clock=lambda: NOW)
    yield state, counts


def _field_name_problems(value: Any, path: str = "") -> list[str]:
    problems: list[str] = []
    if isinstance(value, dict):
        for key, child in value.items():
            if not CAMEL.match(key):
                problems.append(f"{path}.{key}")
            if key not in FREE_FORM:
                problems += _field_name_problems(child, f"{path}.{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            problems += _field_name_problems(child, f"{path}[{i}]")
    return problems


def test_there_is_a_factory_for_every_builtin_kind(
    one_of_each: tuple[ClusterState, dict[str, dict[str, Any]]],
) -> None:
    _state, made = one_of_each
    assert set(made) == {k.plural for k in BUILTIN_KINDS}


@pytest.mark.parametrize("kind", BUILTIN_KINDS, ids=lambda k: k.plural)
def test_each_factory_yields_a_structurally_valid_api_object(
    kind: KindInfo, one_of_each: tuple[ClusterState, dict[str, dict[str, Any]]]
) -> None:
    _state, made = one_of_each
    obj = made[kind.plural]
    assert obj["apiVersion"] == kind.api_version
    assert obj["kind"] == kind.kind
    meta = obj["metadata"]
    assert meta["name"]
    assert ("namespace" in meta) == kind.namespaced
    assert not [f for f in SERVER_SET if f in meta], "server-set fields must be left to the state"
    for path in REQUIRED[kind.plural]:
        assert _get(obj, path) not in (None, "", [], {}), path
    assert _field_name_problems(obj) == [], "API JSON uses camelCase field names"
    assert orjson.loads(orjson.dumps(obj)) == obj  # plain JSON data, nothing else
    for entry in meta.get("managedFields", []):
        assert {"manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"} <= set(
            entry
        )
        assert entry["operation"] in ("Update", "Apply")
        assert entry["fieldsType"] == "FieldsV1"
        assert RFC3339.match(entry["time"])
        assert entry["fieldsV1"] and all(k.startswith("f:") for k in entry["fieldsV1"])
    for ref in meta.get("ownerReferences", []):
        assert ref["controller"] is True
        assert ref["blockOwnerDeletion"] is True


def test_factory_objects_are_accepted_by_the_state_and_reference_their_owners_by_uid(
    one_of_each: tuple[ClusterState, dict[str, dict[str, Any]]],
) -> None:
    state, _made = one_of_each
    assert sum(state.counts().values()) == len(BUILTIN_KINDS)
    assert owner_chain_problems(state) == []
    pod = state.list_objects("pods")[0]
    rs = state.list_objects("replicasets")[0]
    assert pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert pod["metadata"]["labels"]["pod-template-hash"] == "5d8f7c9b4"
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"


def test_a_pod_is_4_to_8_kb_of_json_like_a_real_one(
    populated: tuple[ClusterState, dict[str, int]],
) -> None:
    state, _counts = populated
    sizes = [len(orjson.dumps(pod)) for pod in state.list_objects("pods")]
    assert len(sizes) > 300
    assert min(sizes) >= 4096, min(sizes)
    assert max(sizes) <= 8192, max(sizes)
    rng = random.Random(5)
    for i in range(100):  # and straight from the factory, with any template it draws
        pod = make_pod(rng, namespace="shop", name=f"p-{i}", node_name="node-1", now=NOW)
        assert 4096 <= len(orjson.dumps(pod)) <= 8192


def test_pods_carry_realistic_containers_and_statuses(
    populated: tuple[ClusterState, dict[str, int]],
) -> None:
    state, _counts = populated
    pods = state.list_objects("pods")
    containers = [c for p in pods for c in p["spec"]["containers"]]
    assert all(c["image"] and c["resources"]["requests"] for c in containers)
    assert any("ports" in c and "env" in c and "livenessProbe" in c for c in containers)
    assert any("initContainers" in p["spec"] for p in pods)
    assert {p["status"]["qosClass"] for p in pods} >= {"Burstable", "Guaranteed"}
    assert {p["status"]["phase"] for p in pods} >= {"Running", "Succeeded"}
    owner_kinds = {p["metadata"]["ownerReferences"][0]["kind"] for p in pods}
    assert owner_kinds == {"ReplicaSet", "StatefulSet", "DaemonSet", "Job", "Node"}
    statuses = [s for p in pods for s in p["status"]["containerStatuses"]]
    assert {next(iter(s["state"])) for s in statuses} >= {"running", "terminated"}
    assert all(s["containerID"].startswith("containerd://") for s in statuses if s["imageID"])


def test_populate_creates_about_the_requested_number_with_realistic_proportions(
    populated: tuple[ClusterState, dict[str, int]],
) -> None:
    state, counts = populated
    total = sum(counts.values())
    assert 3000 <= total <= 3150
    assert total == sum(state.counts().values())
    assert set(counts) == {k.plural for k in BUILTIN_KINDS}
    assert all(n >= 1 for n in counts.values())
    largest = sorted(counts, key=counts.__getitem__, reverse=True)[:2]
    assert set(largest) == {"events", "pods"}
    assert abs(counts["events"] / total - EVENT_SHARE) < 0.03
    assert counts["nodes"] <= 0.01 * total
    assert counts["namespaces"] <= 0.01 * total


def test_a_populated_cluster_of_100_objects_already_has_every_kind() -> None:
    state = ClusterState(clock=lambda: NOW)
    counts = populate(state, 100, random.Random(1), clock=lambda: NOW)
    assert set(counts) == {k.plural for k in BUILTIN_KINDS}
    assert 95 <= sum(counts.values()) <= 110


def test_every_owner_reference_in_a_populated_cluster_resolves_by_kind_name_and_uid(
    populated: tuple[ClusterState, dict[str, int]],
) -> None:
    state, _counts = populated
    assert owner_chain_problems(state) == []
    pods = state.list_objects("pods")
    rs_pods = [p for p in pods if p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"]
    assert rs_pods, "Deployment -> ReplicaSet -> Pod chains exist"
    cron_jobs = [
        j
        for j in state.list_objects("jobs")
        if j["metadata"].get("ownerReferences", [{}])[0].get("kind") == "CronJob"
    ]
    assert cron_jobs, "CronJob -> Job chains exist"
    owned_slices = [
        s for s in state.list_objects("endpointslices") if "ownerReferences" in s["metadata"]
    ]
    assert owned_slices, "Service -> EndpointSlice chains exist"


def test_every_other_reference_in_a_populated_cluster_resolves(
    populated: tuple[ClusterState, dict[str, int]],
) -> None:
    state, _counts = populated
    assert reference_problems(state) == []
    for job in state.list_objects("jobs"):
        uid = job["metadata"]["uid"]
        assert job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] == uid


def test_kubectl_applied_objects_carry_their_manifest_and_secrets_leak_data_into_it(
    populated: tuple[ClusterState, dict[str, int]],
) -> None:
    state, _counts = populated
    applied = [
        s
        for s in state.list_objects("secrets")
        if LAST_APPLIED in s["metadata"].get("annotations", {})
    ]
    assert applied, "some Secrets were created with kubectl apply"
    for secret in applied:
        manifest = orjson.loads(secret["metadata"]["annotations"][LAST_APPLIED])
        assert manifest["data"] == secret["data"]
    deployers = {
        entry["manager"]
        for d in state.list_objects("deployments")
        for entry in d["metadata"]["managedFields"]
    }
    assert deployers >= {"kubectl-client-side-apply", "helm", "kube-controller-manager"}
    assert any(p["metadata"].get("finalizers") for p in state.list_objects("persistentvolumes"))


def test_secret_values_are_unique_per_object() -> None:
    rng = random.Random(9)
    secrets = [
        make_secret(rng, namespace="shop", name=f"db-{i}", type_=kind, hosts=("a.example.com",))
        for i in range(30)
        for kind in ("Opaque", "kubernetes.io/tls", "kubernetes.io/dockerconfigjson")
    ]
    values = [v for s in secrets for v in s["data"].values()]
    assert len(values) == len(set(values))
    for secret in secrets:
        for value in secret["data"].values():
            base64.b64decode(value, validate=True)
        if secret["type"] == "kubernetes.io/dockerconfigjson":
            config = orjson.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
            assert "registry.example.com" in config["auths"]
        if secret["type"] == "kubernetes.io/tls":
            assert base64.b64decode(secret["data"]["tls.crt"]).startswith(b"-----BEGIN CERT")


def test_the_same_seed_builds_the_same_cluster_apart_from_server_drawn_uids() -> None:
    def build(seed: int) -> dict[str, dict[str, dict[str, Any]]]:
        state = ClusterState(clock=lambda: NOW)
        populate(state, 600, random.Random(seed), clock=lambda: NOW)
        return without_server_identity(state)

    first = build(21)
    assert build(21) == first
    assert build(22) != first


def test_make_custom_builds_an_object_of_the_custom_kind() -> None:
    widgets = KindInfo(
        group="example.com",
        version="v1alpha1",
        plural="widgets",
        singular="widget",
        kind="Widget",
        namespaced=True,
    )
    state = ClusterState(kinds=(*BUILTIN_KINDS, widgets), clock=lambda: NOW)
    state.create("namespaces", make_namespace(random.Random(1), name="shop"))
    obj = make_custom(
        widgets, random.Random(1), namespace="shop", name="w1", spec={"size": 3}, now=NOW
    )
    assert obj["apiVersion"] == "example.com/v1alpha1"
    assert obj["kind"] == "Widget"
    assert obj["metadata"]["namespace"] == "shop"
    assert obj["spec"] == {"size": 3}
    assert obj["status"]["conditions"][0]["type"] == "Ready"
    assert [e["manager"] for e in obj["metadata"]["managedFields"]] == [
        "kubectl-client-side-apply",
        "widget-operator",
    ]
    stored = state.create("widgets.example.com", obj)
    assert stored["metadata"]["uid"]
    drawn = make_custom(widgets, random.Random(2), namespace="shop", name="w2")
    assert drawn["spec"]["replicas"] >= 1
