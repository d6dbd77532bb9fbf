"""Events (core/v1) of the simulated cluster: what kubelets and controllers report about objects.

Place in the data flow: called by ``objects.populate`` and ``churn`` (events are the most
frequently created and deleted objects of a real cluster) to build objects for ``ClusterState``.
Pure functions of their arguments and the ``random.Random`` passed in; callable from any thread;
owns nothing.

Each involved kind gets the reasons its real reporter emits (kubelet for pods, the
deployment/replicaset/job controllers for theirs, the scheduler's new-style events with
``eventTime`` and no count), named ``<object>.<16 hex>`` in the object's namespace (``default``
for cluster-scoped objects), with ``count`` and ``firstTimestamp``/``lastTimestamp``.
"""

from __future__ import annotations

import random

from informer_mirror.sim.objects_meta import (
    Obj,
    hex_digits,
    managed_entry,
    metadata,
    micro_time,
    object_ref,
    resolve_now,
    rfc3339,
    suffix,
)

# (type, reason, reporting component, message template, about a container)
_EventSpec = tuple[str, str, str, str, bool]

_POD: tuple[_EventSpec, ...] = (
    ("Normal", "Pulling", "kubelet", 'Pulling image "{image}"', True),
    (
        "Normal",
        "Pulled",
        "kubelet",
        'Successfully pulled image "{image}" in {ms}ms ({ms}ms including waiting). '
        "Image size: {size} bytes.",
        True,
    ),
    ("Normal", "Created", "kubelet", "Created container {container}", True),
    ("Normal", "Started", "kubelet", "Started container {container}", True),
    ("Normal", "Killing", "kubelet", "Stopping container {container}", True),
    (
        "Warning",
        "Unhealthy",
        "kubelet",
        "Readiness probe failed: HTTP probe failed with statuscode: 503",
        True,
    ),
    (
        "Warning",
        "BackOff",
        "kubelet",
        "Back-off restarting failed container {container} in pod {name}_{namespace}({uid})",
        True,
    ),
)
_BY_KIND: dict[str, tuple[_EventSpec, ...]] = {
    "ReplicaSet": (
        (
            "Normal",
            "SuccessfulCreate",
            "replicaset-controller",
            "Created pod: {name}-{tail}",
            False,
        ),
        (
            "Normal",
            "SuccessfulDelete",
            "replicaset-controller",
            "Deleted pod: {name}-{tail}",
            False,
        ),
    ),
    "Deployment": (
        (
            "Normal",
            "ScalingReplicaSet",
            "deployment-controller",
            "Scaled up replica set {name}-{hash} to {n}",
            False,
        ),
        (
            "Normal",
            "ScalingReplicaSet",
            "deployment-controller",
            "Scaled down replica set {name}-{hash} to {n} from {n1}",
            False,
        ),
    ),
    "StatefulSet": (
        (
            "Normal",
            "SuccessfulCreate",
            "statefulset-controller",
            "create Pod {name}-{n} in StatefulSet {name} successful",
            False,
        ),
    ),
    "DaemonSet": (
        ("Normal", "SuccessfulCreate", "daemonset-controller", "Created pod: {name}-{tail}", False),
    ),
    "Job": (
        ("Normal", "SuccessfulCreate", "job-controller", "Created pod: {name}-{tail}", False),
        ("Normal", "Completed", "job-controller", "Job completed", False),
    ),
    "CronJob": (
        ("Normal", "SuccessfulCreate", "cronjob-controller", "Created job {name}-{minute}", False),
        (
            "Normal",
            "SawCompletedJob",
            "cronjob-controller",
            "Saw completed job: {name}-{minute}, condition: Complete",
            False,
        ),
    ),
    "Node": (
        ("Normal", "Starting", "kubelet", "Starting kubelet.", False),
        ("Normal", "NodeReady", "kubelet", "Node {name} status is now: NodeReady", False),
        (
            "Normal",
            "RegisteredNode",
            "node-controller",
            "Node {name} event: Registered Node {name} in Controller",
            False,
        ),
    ),
    "HorizontalPodAutoscaler": (
        (
            "Normal",
            "SuccessfulRescale",
            "horizontal-pod-autoscaler",
            "New size: {n}; reason: cpu resource utilization (percentage of request) above target",
            False,
        ),
    ),
    "PersistentVolumeClaim": (
        (
            "Normal",
            "ExternalProvisioning",
            "persistentvolume-controller",
            "Waiting for a volume to be created either by the external provisioner "
            "'ebs.csi.aws.com' or manually by the system administrator.",
            False,
        ),
    ),
    "Service": (
        ("Normal", "EnsuringLoadBalancer", "service-controller", "Ensuring load balancer", False),
    ),
}

EVENT_KINDS = frozenset(("Pod", *_BY_KIND))
"""Kinds of involved objects ``make_event`` knows reasons for."""


def make_event(
    rng: random.Random,
    *,
    involved: Obj,
    reason: str | None = None,
    count: int = 1,
    now: float | None = None,
) -> Obj:
    """An Event about ``involved`` (as stored; kind in ``EVENT_KINDS``), with a reason its real
    reporter emits (``reason`` picks one; a Pod's ``Scheduled`` is the scheduler's new-style
    event). ``count`` > 1 spreads firstTimestamp back over the repeats."""
    now = resolve_now(now)
    meta = involved["metadata"]
    kind = involved["kind"]
    namespace = meta.get("namespace") or "default"
    name = meta["name"]
    if kind == "Pod" and (reason == "Scheduled" or (reason is None and rng.random() < 0.15)):
        return _scheduled(rng, involved, namespace=namespace, now=now)
    choices = _POD if kind == "Pod" else _BY_KIND[kind]
    matching = [c for c in choices if c[1] == reason] or list(choices)
    event_type, chosen, component, template, per_container = rng.choice(matching)
    field_path = None
    fill = {
        "name": name,
        "namespace": namespace,
        "uid": meta["uid"],
        "tail": suffix(rng),
        "hash": suffix(rng, 9),
        "n": rng.randint(1, 6),
        "minute": int(now // 60) - rng.randint(0, 600),
        "ms": rng.randint(300, 9000),
        "size": rng.randint(5, 400) * 1_000_000,
    }
    fill["n1"] = int(fill["n"]) + 1
    if per_container:
        container = rng.choice(involved["spec"]["containers"])
        fill.update(container=container["name"], image=container["image"])
        field_path = f"spec.containers{{{container['name']}}}"
    host = involved["spec"].get("nodeName", "") if kind == "Pod" else ""
    if kind == "Node":
        host = name
    source: Obj = {"component": component}
    if host and component == "kubelet":
        source["host"] = host
    first = now - (rng.randint(60, 3000) if count > 1 else 0)
    event: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": metadata(name=f"{name}.{hex_digits(rng, 16)}", namespace=namespace),
        "involvedObject": object_ref(involved, field_path=field_path),
        "reason": chosen,
        "message": template.format(**fill),
        "source": source,
        "firstTimestamp": rfc3339(first),
        "lastTimestamp": rfc3339(now),
        "count": count,
        "type": event_type,
        "eventTime": None,
        "reportingComponent": component if component == "kubelet" else "",
        "reportingInstance": host if component == "kubelet" else "",
    }
    _set_event_managed(
        event, "kubelet" if component == "kubelet" else "kube-controller-manager", now
    )
    return event


def _scheduled(rng: random.Random, pod: Obj, *, namespace: str, now: float) -> Obj:
    node = pod["spec"].get("nodeName", "")
    event: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": metadata(
            name=f"{pod['metadata']['name']}.{hex_digits(rng, 16)}", namespace=namespace
        ),
        "involvedObject": object_ref(pod),
        "reason": "Scheduled",
        "message": f"Successfully assigned {namespace}/{pod['metadata']['name']} to {node}",
        "source": {},
        "firstTimestamp": None,
        "lastTimestamp": None,
        "type": "Normal",
        "eventTime": micro_time(now),
        "action": "Binding",
        "reportingComponent": "default-scheduler",
        "reportingInstance": f"default-scheduler-{suffix(rng, 8)}",
    }
    _set_event_managed(event, "kube-scheduler", now)
    return event


def _set_event_managed(event: Obj, manager: str, now: float) -> None:
    fragment = {k: v for k, v in event.items() if k not in ("apiVersion", "kind", "metadata")}
    event["metadata"]["managedFields"] = [
        managed_entry(manager, api_version="v1", now=now, fragment=fragment)
    ]


def bump_event(event: Obj, *, now: float) -> None:
    """Record (in place) that the same event happened again: count + 1, lastTimestamp now, as
    the client-side event correlator does instead of creating a new Event."""
    event["count"] = int(event.get("count") or 1) + 1
    event["lastTimestamp"] = rfc3339(now)
    if event.get("firstTimestamp") is None:
        event["firstTimestamp"] = rfc3339(now)
    for entry in event["metadata"].get("managedFields", []):
        entry["time"] = rfc3339(now)
