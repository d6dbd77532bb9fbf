"""Realistic objects for the simulated cluster: ``populate`` fills a ``ClusterState`` with a
plausible production cluster, and one ``make_<kind>`` factory per built-in kind builds single
objects (plus ``make_custom`` for custom resources).

Place in the data flow: the source of the simulated cluster's data. ``informer-mirror sim``,
tests and benchmarks call ``populate`` once (on their own thread) before serving; ``churn``
keeps changing the cluster afterwards with the same factories. The factories are pure
(deterministic from the ``random.Random`` passed in and the ``now`` given); ``populate`` owns
nothing beyond the call and writes only through ``ClusterState``.

Factories never set uid, resourceVersion, creationTimestamp or generation (the state does); an
ownerReference is always built from the owner as ``ClusterState.create`` returned it, so owners
are created first and every reference resolves. The implementation is split by area:
``objects_meta`` (names, ownerReferences, managedFields), ``objects_catalog`` (images, apps),
``objects_pods``/``objects_podstatus``, ``objects_workloads``, ``objects_batch``,
``objects_core``, ``objects_storage``, ``objects_network``, ``objects_events`` (factories), and
``objects_builder``/``objects_infra``/``objects_jobs``/``objects_apps`` (groups of objects
created consistently in a state).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from informer_mirror.kinds import KindInfo
from informer_mirror.sim import objects_catalog as catalog
from informer_mirror.sim.objects_apps import AppBuilder
from informer_mirror.sim.objects_batch import make_cronjob, make_job
from informer_mirror.sim.objects_core import (
    make_configmap,
    make_namespace,
    make_node,
    make_secret,
    make_serviceaccount,
)
from informer_mirror.sim.objects_events import make_event
from informer_mirror.sim.objects_meta import (
    Obj,
    deploy_with,
    metadata,
    resolve_now,
    rfc3339,
    status_entry,
)
from informer_mirror.sim.objects_meta import add_managed as _add_managed
from informer_mirror.sim.objects_network import (
    make_endpointslice,
    make_ingress,
    make_networkpolicy,
    make_service,
)
from informer_mirror.sim.objects_pods import make_pod, make_pod_template
from informer_mirror.sim.objects_storage import make_persistentvolume, make_persistentvolumeclaim
from informer_mirror.sim.objects_workloads import (
    make_daemonset,
    make_deployment,
    make_horizontalpodautoscaler,
    make_replicaset,
    make_statefulset,
)
from informer_mirror.sim.state import ClusterState

__all__ = [
    "EVENT_SHARE",
    "make_configmap",
    "make_cronjob",
    "make_custom",
    "make_daemonset",
    "make_deployment",
    "make_endpointslice",
    "make_event",
    "make_horizontalpodautoscaler",
    "make_ingress",
    "make_job",
    "make_namespace",
    "make_networkpolicy",
    "make_node",
    "make_persistentvolume",
    "make_persistentvolumeclaim",
    "make_pod",
    "make_pod_template",
    "make_replicaset",
    "make_secret",
    "make_service",
    "make_serviceaccount",
    "make_statefulset",
    "populate",
]

log = logging.getLogger(__name__)

EVENT_SHARE = 0.3
"""Share of a populated cluster's objects that are Events (they expire after an hour in a real
cluster, and a busy cluster still holds about as many as it has pods)."""

_APP_KINDS = (("deployment", 72), ("statefulset", 8), ("cronjob", 15), ("job", 5))
_FIRST_APPS = ("deployment", "statefulset", "cronjob", "job")
"""Every populated cluster starts with one app of each shape, so every kind is present."""


def populate(
    state: ClusterState,
    n_objects: int,
    rng: random.Random,
    *,
    clock: Callable[[], float] = time.time,
) -> dict[str, int]:
    """Create about ``n_objects`` objects across every built-in kind; return ``{plural: count}``.

    The cluster has nodes (one in 400 objects, 3 to 1000, with 1 or 3 control-plane nodes running
    static pods), the system namespaces (CoreDNS, kube-proxy on every node, the ``kubernetes``
    Service), and app namespaces holding Deployments, StatefulSets, CronJobs and Jobs with all the
    objects they bring; Events make up ``EVENT_SHARE`` of the total. From about 100 objects on,
    every built-in kind is present; below that the system objects alone exceed the request.
    ``clock`` gives the wall time stamped into statuses (inject it for reproducible objects).
    """
    started = time.monotonic()
    b = AppBuilder(state, rng, clock=clock, keep_stubs=True)
    n_nodes = max(3, min(1000, n_objects // 400))
    for index in range(n_nodes):
        b.node(index, control_plane=index < (1 if n_nodes < 20 else 3))
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        b.namespace(name)
    b.kubernetes_service()
    _system_apps(b, large=n_objects >= 2000)
    namespaces = _app_namespaces(b, max(1, n_objects // 400))
    budget = n_objects - int(n_objects * EVENT_SHARE)
    index = 0
    while b.total < budget:
        shape = (
            _FIRST_APPS[index]
            if index < len(_FIRST_APPS)
            else rng.choices([k for k, _ in _APP_KINDS], weights=[w for _, w in _APP_KINDS])[0]
        )
        namespace = namespaces[index % len(namespaces)]
        base = rng.choice(catalog.APP_NAMES) + rng.choice(catalog.APP_ROLES)
        if shape == "deployment":
            b.deployment_app(namespace, base, full=index == 0)
        elif shape == "statefulset":
            b.statefulset_app(namespace, base.split("-")[0])
        elif shape == "cronjob":
            b.cronjob_app(namespace, base.split("-")[0])
        else:
            b.job_app(namespace, base.split("-")[0])
        index += 1
    while b.total < n_objects and b.random_event() is not None:
        pass
    log.info(
        "populated the simulated cluster with %d objects in %.1f s",
        b.total,
        time.monotonic() - started,
    )
    return dict(sorted(b.created.items()))


def _system_apps(b: AppBuilder, *, large: bool) -> None:
    """CoreDNS, kube-proxy, the control plane's static pods; node agents and an ingress
    controller behind a LoadBalancer in larger clusters."""
    b.deployment_app("kube-system", "coredns", replicas=2, profile=catalog.COREDNS, old_revisions=0)
    for node in b.layout.nodes:
        if node.control_plane:
            b.static_pods(node)
    for namespace, name, profile in catalog.NODE_AGENTS:
        if namespace != "kube-system":
            if not large:
                continue
            b.namespace(namespace)
        b.daemonset(namespace, name, profile)
    if large:
        b.namespace("ingress-nginx")
        b.deployment_app(
            "ingress-nginx", "ingress-nginx-controller", replicas=2, profile=catalog.WEB_APPS[-1]
        )


def _app_namespaces(b: AppBuilder, count: int) -> list[str]:
    combos = [(t, e) for t in catalog.TEAM_NAMES for e in catalog.ENVIRONMENTS]
    b.rng.shuffle(combos)
    names = []
    for i in range(count):
        team, env = combos[i % len(combos)]
        name = f"{team}-{env}" if i < len(combos) else f"{team}-{env}-{i // len(combos) + 1}"
        labels = {"team": team, "environment": env}
        if env == "prod":
            labels["pod-security.kubernetes.io/enforce"] = "restricted"
        b.namespace(name, labels=labels)
        names.append(name)
    return names


def make_custom(
    kind: KindInfo,
    rng: random.Random,
    *,
    namespace: str | None,
    name: str,
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    now: float | None = None,
) -> Obj:
    """An object of a custom resource ``kind``, as an operator's CR looks: applied by a user,
    status written by the operator (``<singular>-operator``) through the status subresource.

    Without ``spec``/``status``, plausible ones are drawn from ``rng``.
    """
    now = resolve_now(now)
    if spec is None:
        spec = {
            "replicas": rng.randint(1, 5),
            "version": f"{rng.randint(1, 3)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            "paused": rng.random() < 0.1,
            "config": {
                "logLevel": rng.choice(("info", "debug")),
                "retention": f"{rng.randint(1, 30)}d",
            },
        }
    obj: Obj = {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": metadata(
            name=name,
            namespace=namespace if kind.namespaced else None,
            labels={"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": kind.singular},
        ),
        "spec": spec,
    }
    deploy_with(obj, "kubectl-client-side-apply", now=now, release=name)
    if status is None:
        status = {
            "phase": "Ready",
            "observedGeneration": 1,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "lastTransitionTime": rfc3339(now),
                    "reason": "Reconciled",
                    "message": f"{kind.kind} {name} is ready",
                }
            ],
        }
    obj["status"] = status
    _add_managed(obj, status_entry(f"{kind.singular}-operator", obj, now=now))
    return obj
