"""The table of churn operations and their mix, and the operations on single objects: Events,
pod status, node heartbeats, ConfigMaps, Secrets, HPAs, custom resources. Workload operations
(scaling, rollouts, Jobs) are in ``churn_workloads``.

Place in the data flow: called by ``churn.ChurnGenerator.step`` on the ``sim-churn`` thread (or a
test's), writing to ``ClusterState`` through an ``IndexedBuilder``. Owns nothing but that builder.

Every operation is the writes a real cluster's controllers, kubelets or users make for one
change; it returns a short description, or None when it found nothing to act on (the generator
then picks another). A SimConflict or SimNotFound raised midway (someone else changed the object)
propagates to the generator, which counts and skips it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass

from informer_mirror.kinds import KindInfo
from informer_mirror.sim import objects_catalog as catalog
from informer_mirror.sim.churn_index import IndexedBuilder, KeyIndex, key_of
from informer_mirror.sim.churn_workloads import PLURAL_OF, WorkloadOps
from informer_mirror.sim.objects import make_custom
from informer_mirror.sim.objects_core import make_configmap, make_secret, node_conditions
from informer_mirror.sim.objects_events import bump_event
from informer_mirror.sim.objects_meta import (
    LAST_APPLIED,
    last_applied,
    set_managed,
    status_entry,
    suffix,
)
from informer_mirror.sim.objects_podstatus import advance_pod
from informer_mirror.sim.objects_workloads import (
    hpa_status,
)

_EVENT_TARGETS = (
    ("pods", 70),
    ("replicasets", 6),
    ("deployments", 6),
    ("jobs", 4),
    ("nodes", 4),
    ("cronjobs", 3),
    ("statefulsets", 2),
    ("horizontalpodautoscalers", 2),
    ("daemonsets", 1),
    ("persistentvolumeclaims", 1),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """One kind of change churn can make."""

    name: str
    """Short name, e.g. ``pod-status``."""
    category: str
    """``create``, ``update`` or ``delete``: what the change mostly does."""
    weight: float
    """Relative frequency."""
    writes: frozenset[str]
    """Plurals it may write; a generator restricted to some kinds runs only operations whose
    writes all fall among them."""
    run: Callable[[ChurnOps], str | None]
    """Performs the change."""


class ChurnOps(WorkloadOps):
    """Every churn operation (workload ones inherited) over one ``IndexedBuilder``."""

    def __init__(self, builder: IndexedBuilder) -> None:
        super().__init__(builder)
        self.disposable = KeyIndex()
        """ConfigMaps churn created itself and no pod mounts: the ones it may delete again."""

    def create_event(self) -> str | None:
        """An Event about a random object (mostly pods)."""
        plurals = [p for p, _ in _EVENT_TARGETS]
        plural = self.rng.choices(plurals, weights=[w for _, w in _EVENT_TARGETS])[0]
        involved = self.b.pick(plural)
        if involved is None:
            return None
        event = self.b.event_about(involved)
        return f"create events {event['metadata']['namespace']}/{event['metadata']['name']}"

    def create_configmap(self) -> str | None:
        """A new ConfigMap (feature flags, routes...)."""
        namespace = self.app_namespace()
        if namespace is None:
            return None
        base = f"{self.rng.choice(catalog.APP_NAMES)}-{self.rng.choice(('flags', 'routes', 'env'))}"
        name = self.b.layout.fresh_name("configmaps", namespace, base)
        data = {f"key{i}": suffix(self.rng, 12) for i in range(self.rng.randint(1, 6))}
        cm = make_configmap(self.rng, namespace=namespace, name=name, data=data, now=self.now())
        self.disposable.add(key_of(self.b.create("configmaps", cm)))
        return f"create configmaps {namespace}/{name}"

    def create_secret(self) -> str | None:
        """A new Secret (credentials, a certificate, registry credentials)."""
        namespace = self.app_namespace()
        if namespace is None:
            return None
        kind = self.rng.choices(
            ("Opaque", "kubernetes.io/tls", "kubernetes.io/dockerconfigjson"), weights=(7, 2, 1)
        )[0]
        name = self.b.layout.fresh_name(
            "secrets", namespace, f"{self.rng.choice(catalog.APP_NAMES)}-{suffix(self.rng, 5)}"
        )
        secret = make_secret(self.rng, namespace=namespace, name=name, type_=kind, now=self.now())
        self.b.create("secrets", secret)
        return f"create secrets {namespace}/{name}"

    def pod_status(self) -> str | None:
        """The kubelet reports a pod's progress: starts, restarts, readiness flips."""
        pod = self.b.pick(
            "pods", lambda p: p.get("status", {}).get("phase") in ("Pending", "Running")
        )
        if pod is None:
            return None
        slot = next((n for n in self.b.layout.nodes if n.name == pod["spec"].get("nodeName")), None)
        pod_ip = (
            self.b.layout.pod_ip(slot)
            if slot
            else f"10.250.{self.rng.randint(0, 255)}.{self.rng.randint(2, 254)}"
        )
        change = advance_pod(pod, self.rng, now=self.now(), pod_ip=pod_ip)
        if change is None:
            return None
        self.b.update("pods", pod)
        namespace, name = key_of(pod)
        return f"update pods {namespace}/{name}: {change}"

    def repeat_event(self) -> str | None:
        """An event happens again: its count goes up."""
        event = self.b.pick("events", lambda e: e.get("count") is not None)
        if event is None:
            return None
        bump_event(event, now=self.now())
        self.b.update("events", event)
        return f"update events {key_of(event)[0]}/{key_of(event)[1]}: count {event['count']}"

    def node_status(self) -> str | None:
        """A kubelet heartbeat; now and then a node goes NotReady or comes back."""
        node = self.b.pick("nodes")
        if node is None:
            return None
        now = self.now()
        ready = next((c for c in node["status"]["conditions"] if c["type"] == "Ready"), None)
        was_ready = ready is None or ready["status"] == "True"
        flip = self.rng.random() < (0.05 if was_ready else 0.6)
        becomes_ready = was_ready != flip
        fresh = node_conditions(now, ready=becomes_ready, heartbeat=now)
        if not flip:  # keep the transition times: only the heartbeat moves
            since = {c["type"]: c["lastTransitionTime"] for c in node["status"]["conditions"]}
            for cond in fresh:
                cond["lastTransitionTime"] = since.get(cond["type"], cond["lastTransitionTime"])
        node["status"]["conditions"] = fresh
        set_managed(node, status_entry("kubelet", node, now=now))
        self.b.update("nodes", node)
        state = "Ready" if becomes_ready else "NotReady"
        return f"update nodes {node['metadata']['name']}: {'now ' if flip else ''}{state}"

    def edit_configmap(self) -> str | None:
        """Someone changes a setting in a ConfigMap (and re-applies it)."""
        cm = self.b.pick(
            "configmaps",
            lambda c: c["metadata"]["name"] != "kube-root-ca.crt" and bool(c.get("data")),
        )
        if cm is None:
            return None
        data: dict[str, str] = cm["data"]
        key = self.rng.choice(sorted(data))
        value = data[key]
        if re.search(r"\d+", value):
            data[key] = re.sub(r"\d+", str(self.rng.randint(1, 999)), value, count=1)
        else:
            data[key] = suffix(self.rng, 12)
        annotations = cm["metadata"].get("annotations", {})
        if LAST_APPLIED in annotations:
            annotations[LAST_APPLIED] = last_applied(cm, body_keys=("data",))
        self.b.update("configmaps", cm)
        return f"update configmaps {key_of(cm)[0]}/{key_of(cm)[1]}: {key}"

    def rotate_secret(self) -> str | None:
        """A password is rotated (the last-applied annotation, if any, leaks the new one too)."""
        secret = self.b.pick("secrets", lambda s: "password" in (s.get("data") or {}))
        if secret is None:
            return None
        secret["data"]["password"] = base64.b64encode(self.rng.randbytes(18)).decode()
        annotations = secret["metadata"].get("annotations", {})
        if LAST_APPLIED in annotations:
            annotations[LAST_APPLIED] = last_applied(secret, body_keys=("type", "data"))
        self.b.update("secrets", secret)
        return f"update secrets {key_of(secret)[0]}/{key_of(secret)[1]}: password rotated"

    def refresh_hpa(self) -> str | None:
        """The HPA controller records fresh metrics."""
        hpa = self.b.pick("horizontalpodautoscalers")
        if hpa is None:
            return None
        ref = hpa["spec"]["scaleTargetRef"]
        target = self.b.fetch(
            PLURAL_OF.get(ref["kind"], "deployments"), hpa["metadata"]["namespace"], ref["name"]
        )
        replicas = int((target or {}).get("spec", {}).get("replicas", 1))
        hpa_status(hpa, self.rng, current_replicas=replicas, now=self.now())
        self.b.update("horizontalpodautoscalers", hpa)
        return f"update horizontalpodautoscalers {key_of(hpa)[0]}/{key_of(hpa)[1]}"

    def expire_event(self) -> str | None:
        """An event reaches its TTL and is removed."""
        event = self.b.pick("events")
        if event is None:
            return None
        self.b.delete("events", event)
        return f"delete events {key_of(event)[0]}/{key_of(event)[1]}"

    def delete_configmap(self) -> str | None:
        """A ConfigMap nobody mounts is removed."""
        key = self.disposable.choice(self.rng)
        if key is None:
            return None
        self.disposable.discard(key)
        cm = self.b.fetch("configmaps", key[0], key[1])
        if cm is None:
            return None
        self.b.delete("configmaps", cm)
        return f"delete configmaps {key_of(cm)[0]}/{key_of(cm)[1]}"

    @staticmethod
    def custom_ops(kind: KindInfo, resource: str) -> list[Operation]:
        """Create/update/delete operations for a custom resource (``resource``: how the state
        names it, ``plural.group``)."""

        def create(ops: ChurnOps) -> str | None:
            namespace = ops.app_namespace() if kind.namespaced else None
            if kind.namespaced and namespace is None:
                return None
            name = f"{kind.singular}-{suffix(ops.rng)}"
            ops.b.create(
                resource, make_custom(kind, ops.rng, namespace=namespace, name=name, now=ops.now())
            )
            return f"create {resource} {namespace or ''}/{name}"

        def update(ops: ChurnOps) -> str | None:
            obj = ops.b.pick(resource)
            if obj is None:
                return None
            spec = obj.setdefault("spec", {})
            spec["replicas"] = ops.rng.randint(1, 9)
            ops.b.update(resource, obj)
            return f"update {resource} {key_of(obj)[0]}/{key_of(obj)[1]}"

        def delete(ops: ChurnOps) -> str | None:
            obj = ops.b.pick(resource)
            if obj is None:
                return None
            ops.b.delete(resource, obj)
            return f"delete {resource} {key_of(obj)[0]}/{key_of(obj)[1]}"

        writes = frozenset({resource})
        return [
            Operation(
                name=f"create-{resource}", category="create", weight=3, writes=writes, run=create
            ),
            Operation(
                name=f"update-{resource}", category="update", weight=5, writes=writes, run=update
            ),
            Operation(
                name=f"delete-{resource}", category="delete", weight=2, writes=writes, run=delete
            ),
        ]


def _op(
    name: str, category: str, weight: float, writes: str, run: Callable[[ChurnOps], str | None]
) -> Operation:
    return Operation(
        name=name, category=category, weight=weight, writes=frozenset(writes.split()), run=run
    )


_APP_WRITES = (
    "deployments replicasets pods services endpointslices configmaps secrets serviceaccounts "
    "horizontalpodautoscalers ingresses networkpolicies"
)
BUILTIN_OPERATIONS: tuple[Operation, ...] = (
    # creates: 30
    _op("create-event", "create", 14, "events", ChurnOps.create_event),
    _op("scale-up", "create", 5, "deployments replicasets pods", ChurnOps.scale_up),
    _op("fire-cronjob", "create", 4, "cronjobs jobs pods", ChurnOps.fire_cronjob),
    _op("new-app", "create", 2, _APP_WRITES, ChurnOps.new_app),
    _op("create-configmap", "create", 3, "configmaps", ChurnOps.create_configmap),
    _op("create-secret", "create", 2, "secrets", ChurnOps.create_secret),
    # updates: 55
    _op("pod-status", "update", 22, "pods", ChurnOps.pod_status),
    _op("repeat-event", "update", 10, "events", ChurnOps.repeat_event),
    _op("node-status", "update", 5, "nodes", ChurnOps.node_status),
    _op("edit-configmap", "update", 5, "configmaps", ChurnOps.edit_configmap),
    _op("finish-job", "update", 3, "pods jobs cronjobs", ChurnOps.finish_job),
    _op("sync-endpointslice", "update", 4, "endpointslices", ChurnOps.sync_endpointslice),
    _op("refresh-hpa", "update", 2, "horizontalpodautoscalers", ChurnOps.refresh_hpa),
    _op("rollout", "update", 2, "deployments replicasets pods", ChurnOps.rollout),
    _op("rotate-secret", "update", 2, "secrets", ChurnOps.rotate_secret),
    # deletes: 15
    _op("expire-event", "delete", 6, "events", ChurnOps.expire_event),
    _op("replace-pod", "delete", 4, "pods", ChurnOps.replace_pod),
    _op("scale-down", "delete", 2, "deployments replicasets pods", ChurnOps.scale_down),
    _op("delete-deployment", "delete", 1, _APP_WRITES, ChurnOps.delete_deployment),
    _op("delete-job", "delete", 1.5, "jobs pods", ChurnOps.delete_job),
    _op("delete-configmap", "delete", 0.5, "configmaps", ChurnOps.delete_configmap),
)
"""Every operation on built-in kinds, with its share of the mix (weights sum to 100:
30 create, 55 update, 15 delete; Events and Pods dominate, as in a real cluster)."""
