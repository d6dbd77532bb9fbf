"""Workload controllers of the simulated cluster: Deployments, ReplicaSets, StatefulSets,
DaemonSets and HorizontalPodAutoscalers (Jobs and CronJobs are in ``objects_batch``).

Place in the data flow: called by ``objects.populate`` and ``churn`` to build objects for
``ClusterState``; pod templates come from ``objects_pods``. Pure functions of their arguments and
the ``random.Random`` passed in; callable from any thread; owns nothing.

Each object is what a real cluster stores: the user's spec (with the deployer's trace, see
``objects_meta.deploy_with``), what API defaulting adds, and the status and annotations the
kube-controller-manager writes. Owners come in as the objects ``ClusterState.create`` returned,
so ownerReferences carry real uids.
"""

from __future__ import annotations

import random
from typing import Any

from informer_mirror.sim.objects_meta import (
    Obj,
    add_managed,
    deploy_with,
    managed_entry,
    metadata,
    resolve_now,
    rfc3339,
    set_managed,
    status_entry,
)

KCM = "kube-controller-manager"
"""Field manager of the built-in controllers."""


def _condition(kind: str, status: str, reason: str, message: str, now: float) -> Obj:
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": rfc3339(now),
        "lastTransitionTime": rfc3339(now),
        "reason": reason,
        "message": message,
    }


def _template_with(template: Obj, extra_labels: dict[str, str]) -> Obj:
    meta = dict(template["metadata"])
    meta["labels"] = {**template["metadata"].get("labels", {}), **extra_labels}
    return {"metadata": meta, "spec": template["spec"]}


def deployment_status(deployment: Obj, *, ready: int, rs_name: str, now: float) -> Obj:
    """The Deployment controller's status for ``ready`` of ``spec.replicas`` pods up."""
    replicas = deployment["spec"]["replicas"]
    status: Obj = {"observedGeneration": deployment["metadata"].get("generation", 1)}
    if replicas:
        status.update(
            replicas=replicas,
            updatedReplicas=replicas,
            readyReplicas=ready,
            availableReplicas=ready,
        )
    if ready < replicas:
        status["unavailableReplicas"] = replicas - ready
    available = ready >= max(0, replicas - max(1, replicas // 4))
    status["conditions"] = [
        _condition(
            "Available",
            "True" if available else "False",
            "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if available
            else "Deployment does not have minimum availability.",
            now,
        ),
        _condition(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs_name}" has successfully progressed.',
            now,
        ),
    ]
    return status


def make_deployment(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    replicas: int,
    template: Obj,
    pod_template_hash: str,
    revision: int = 1,
    deployer: str = "kubectl-client-side-apply",
    labels: dict[str, str] | None = None,
    now: float | None = None,
) -> Obj:
    """A Deployment whose current ReplicaSet is ``{name}-{pod_template_hash}``, all pods ready."""
    now = resolve_now(now)
    selector = {"app": template["metadata"]["labels"]["app"]}
    dep: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name=name, namespace=namespace, labels=labels or selector),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": template,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
    }
    deploy_with(dep, deployer, now=now, release=name)
    dep["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = str(
        revision
    )
    rs_name = f"{name}-{pod_template_hash}"
    dep["status"] = deployment_status(dep, ready=replicas, rs_name=rs_name, now=now)
    revision_fragment = {"metadata": {"annotations": {"deployment.kubernetes.io/revision": ""}}}
    add_managed(dep, managed_entry(KCM, api_version="apps/v1", now=now, fragment=revision_fragment))
    add_managed(dep, status_entry(KCM, dep, now=now))
    return dep


def replicaset_status(rs: Obj, *, ready: int) -> Obj:
    """The ReplicaSet controller's status for ``ready`` of ``spec.replicas`` pods up."""
    replicas = rs["spec"]["replicas"]
    status: Obj = {"replicas": replicas}
    if replicas:
        status.update(fullyLabeledReplicas=replicas, readyReplicas=ready, availableReplicas=ready)
    status["observedGeneration"] = rs["metadata"].get("generation", 1)
    return status


def make_replicaset(
    rng: random.Random,
    *,
    deployment: Obj,
    pod_template_hash: str,
    replicas: int,
    revision: int,
    template: Obj | None = None,
    now: float | None = None,
) -> Obj:
    """A ReplicaSet owned by ``deployment`` (as created); ``template`` overrides the
    deployment's for an older revision."""
    now = resolve_now(now)
    dmeta = deployment["metadata"]
    template = _template_with(
        template or deployment["spec"]["template"], {"pod-template-hash": pod_template_hash}
    )
    max_replicas = deployment["spec"]["replicas"] + max(1, deployment["spec"]["replicas"] // 4)
    annotations = {
        "deployment.kubernetes.io/desired-replicas": str(deployment["spec"]["replicas"]),
        "deployment.kubernetes.io/max-replicas": str(max_replicas),
        "deployment.kubernetes.io/revision": str(revision),
    }
    labels = dict(template["metadata"]["labels"])
    rs: Obj = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": metadata(
            name=f"{dmeta['name']}-{pod_template_hash}",
            namespace=dmeta["namespace"],
            labels=labels,
            annotations=annotations,
            owner=deployment,
        ),
        "spec": {
            "replicas": replicas,
            "selector": {
                "matchLabels": {
                    **deployment["spec"]["selector"]["matchLabels"],
                    "pod-template-hash": pod_template_hash,
                }
            },
            "template": template,
        },
    }
    written = {k: v for k, v in rs["metadata"].items() if k not in ("name", "namespace")}
    add_managed(
        rs,
        managed_entry(
            KCM, api_version="apps/v1", now=now, fragment={"metadata": written, "spec": rs["spec"]}
        ),
    )
    rs["status"] = replicaset_status(rs, ready=replicas)
    add_managed(rs, status_entry(KCM, rs, now=now))
    return rs


def make_statefulset(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    replicas: int,
    template: Obj,
    service_name: str,
    revision_hash: str,
    storage_class: str,
    storage: str = "10Gi",
    deployer: str = "helm",
    now: float | None = None,
) -> Obj:
    """A StatefulSet with one ``data`` volumeClaimTemplate; all replicas ready."""
    now = resolve_now(now)
    selector = {"app": template["metadata"]["labels"]["app"]}
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "creationTimestamp": None},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": storage}},
            "storageClassName": storage_class,
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Pending"},
    }
    sts: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(name=name, namespace=namespace, labels=dict(selector)),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": template,
            "volumeClaimTemplates": [claim],
            "serviceName": service_name,
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
        },
    }
    deploy_with(sts, deployer, now=now, release=name)
    revision = f"{name}-{revision_hash}"
    sts["status"] = {
        "observedGeneration": 1,
        "replicas": replicas,
        "readyReplicas": replicas,
        "currentReplicas": replicas,
        "updatedReplicas": replicas,
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
        "availableReplicas": replicas,
    }
    add_managed(sts, status_entry(KCM, sts, now=now))
    return sts


def statefulset_pod_extras(sts: Obj, pod: Obj, *, index: int, revision_hash: str) -> None:
    """Make ``pod`` (from ``make_pod`` with the StatefulSet's template) pod ``index`` of ``sts``,
    in place: identity labels, stable hostname, its own claim of each volumeClaimTemplate."""
    name = sts["metadata"]["name"]
    labels = pod["metadata"]["labels"]
    labels["controller-revision-hash"] = f"{name}-{revision_hash}"
    labels["statefulset.kubernetes.io/pod-name"] = f"{name}-{index}"
    labels["apps.kubernetes.io/pod-index"] = str(index)
    pod["metadata"].pop("generateName", None)
    pod["spec"]["hostname"] = f"{name}-{index}"
    pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
    claims = [
        {
            "name": tmpl["metadata"]["name"],
            "persistentVolumeClaim": {"claimName": f"{tmpl['metadata']['name']}-{name}-{index}"},
        }
        for tmpl in sts["spec"]["volumeClaimTemplates"]
    ]
    pod["spec"]["volumes"] = claims + pod["spec"].get("volumes", [])


def make_daemonset(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    template: Obj,
    nodes: int,
    deployer: str = "helm",
    now: float | None = None,
) -> Obj:
    """A DaemonSet scheduled on ``nodes`` nodes, all ready."""
    now = resolve_now(now)
    selector = {"app": template["metadata"]["labels"]["app"]}
    ds: Obj = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(name=name, namespace=namespace, labels=dict(selector)),
        "spec": {
            "selector": {"matchLabels": selector},
            "template": template,
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "revisionHistoryLimit": 10,
        },
    }
    deploy_with(ds, deployer, now=now, release=name)
    ds["metadata"].setdefault("annotations", {})["deprecated.daemonset.template.generation"] = "1"
    ds["status"] = {
        "currentNumberScheduled": nodes,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": nodes,
        "numberReady": nodes,
        "observedGeneration": 1,
        "updatedNumberScheduled": nodes,
        "numberAvailable": nodes,
    }
    add_managed(ds, status_entry(KCM, ds, now=now))
    return ds


def make_horizontalpodautoscaler(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    target: Obj,
    current_replicas: int,
    deployer: str = "kubectl-client-side-apply",
    now: float | None = None,
) -> Obj:
    """An autoscaling/v2 HPA scaling ``target`` (a Deployment or StatefulSet) on CPU (and
    sometimes memory) utilisation, with the metrics the controller last observed."""
    now = resolve_now(now)
    metrics: list[Obj] = [_resource_metric("cpu", rng.choice((60, 70, 75, 80)))]
    if rng.random() < 0.4:
        metrics.append(_resource_metric("memory", 80))
    hpa: Obj = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(name=name, namespace=namespace, labels={"app": name}),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": target["apiVersion"],
                "kind": target["kind"],
                "name": target["metadata"]["name"],
            },
            "minReplicas": max(1, min(current_replicas, 2)),
            "maxReplicas": max(current_replicas, 2) * 3,
            "metrics": metrics,
        },
    }
    deploy_with(hpa, deployer, now=now, release=name)
    hpa_status(hpa, rng, current_replicas=current_replicas, now=now)
    return hpa


def _resource_metric(resource: str, utilization: int) -> Obj:
    target = {"type": "Utilization", "averageUtilization": utilization}
    return {"type": "Resource", "resource": {"name": resource, "target": target}}


def hpa_status(hpa: Obj, rng: random.Random, *, current_replicas: int, now: float) -> None:
    """Set (in place) a fresh observation of the HPA controller: metric values and replicas."""
    current: list[Obj] = []
    for metric in hpa["spec"]["metrics"]:
        res = metric["resource"]["name"]
        utilization = rng.randint(10, 95)
        value = f"{utilization * 5}m" if res == "cpu" else f"{utilization * 3}Mi"
        current.append(
            {
                "type": "Resource",
                "resource": {
                    "name": res,
                    "current": {"averageValue": value, "averageUtilization": utilization},
                },
            }
        )
    ts = rfc3339(now)

    def cond(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": status,
            "lastTransitionTime": ts,
            "reason": reason,
            "message": message,
        }

    hpa["status"] = {
        "lastScaleTime": ts,
        "currentReplicas": current_replicas,
        "desiredReplicas": current_replicas,
        "currentMetrics": current,
        "conditions": [
            cond(
                "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"
            ),
            cond(
                "ScalingActive",
                "True",
                "ValidMetricFound",
                "the HPA was able to successfully calculate a replica count from cpu resource "
                "utilization (percentage of request)",
            ),
            cond(
                "ScalingLimited",
                "False",
                "DesiredWithinRange",
                "the desired count is within the acceptable range",
            ),
        ],
    }
    set_managed(hpa, status_entry(KCM, hpa, now=now))
