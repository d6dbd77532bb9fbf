"""Churn operations on workloads: Deployments scaling, rolling out and being removed, pods
replaced by their controllers, CronJobs firing and Jobs finishing, EndpointSlices following pods.

Place in the data flow: the base of ``churn_ops.ChurnOps``, called by
``churn.ChurnGenerator.step`` on the ``sim-churn`` thread (or a test's); writes to
``ClusterState`` through an ``IndexedBuilder``, which is all it owns.

Each operation is the writes the controllers make for one change, creating owners before what
they own and deleting dependents before their owners (pods before their ReplicaSet, slices
before their Service), so no Pod ever names an owner that is gone. It returns a short
description, or None when it found nothing to act on.
"""

from __future__ import annotations

import re

from informer_mirror.kinds import BUILTIN_KINDS
from informer_mirror.sim import objects_catalog as catalog
from informer_mirror.sim.churn_index import IndexedBuilder, controller_of, key_of
from informer_mirror.sim.objects_batch import cronjob_status, job_status
from informer_mirror.sim.objects_meta import (
    Obj,
    object_ref,
    rfc3339,
    set_managed,
    status_entry,
    suffix,
    template_hash,
)
from informer_mirror.sim.objects_network import endpoints_for, set_slice_managed
from informer_mirror.sim.objects_pods import make_pod
from informer_mirror.sim.objects_podstatus import complete_pod
from informer_mirror.sim.objects_workloads import (
    deployment_status,
    make_replicaset,
    replicaset_status,
    statefulset_pod_extras,
)

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
KCM = "kube-controller-manager"
PLURAL_OF = {k.kind: k.plural for k in BUILTIN_KINDS}


def _revision(obj: Obj) -> int:
    return int(obj["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", 0))


def _observe(obj: Obj) -> None:
    # spec and status are written together: the new generation is observed at once
    obj.setdefault("status", {})["observedGeneration"] = (
        int(obj["metadata"].get("generation", 1)) + 1
    )


def _newer_image(image: str, rng_value: int) -> str:
    repo, _, tag = image.rpartition(":")
    match = re.fullmatch(r"(v?\d+\.\d+\.)(\d+)(.*)", tag)
    if match:
        return f"{repo}:{match.group(1)}{int(match.group(2)) + 1}{match.group(3)}"
    return f"{repo}:{tag.split('-r')[0]}-r{rng_value}"


class WorkloadOps:
    """Workload operations (see the module docstring) over one ``IndexedBuilder``."""

    def __init__(self, builder: IndexedBuilder) -> None:
        self.b = builder
        self.rng = builder.rng

    def now(self) -> float:
        """The wall time stamped into objects."""
        return self.b.clock()

    def app_namespace(self) -> str | None:
        """A random namespace that is not one of Kubernetes' own."""
        index = self.b.index("namespaces")
        for _ in range(6):
            key = index.choice(self.rng)
            if key is not None and key[1] not in SYSTEM_NAMESPACES:
                return key[1]
        return None

    def owned(self, plural: str, owner: Obj) -> list[Obj]:
        """Objects of ``plural`` that ``owner`` controls."""
        return self.b.owned(plural, owner)

    def selected_pods(self, namespace: str, app: str) -> list[Obj]:
        """Candidate pods for the Service ``app``: those of the Deployment or StatefulSet of the
        same name (found through the owner index), else every pod of the namespace."""
        dep = self.b.fetch("deployments", namespace, app)
        if dep is not None:
            return [pod for rs in self.owned("replicasets", dep) for pod in self.owned("pods", rs)]
        sts = self.b.fetch("statefulsets", namespace, app)
        if sts is not None:
            return self.owned("pods", sts)
        return self.b.state.list_objects("pods", namespace)

    def current_replicaset(self, dep: Obj) -> Obj | None:
        """The Deployment's newest ReplicaSet (highest revision)."""
        owned = self.owned("replicasets", dep)
        return max(owned, key=_revision) if owned else None

    def delete_with_pods(self, plural: str, owner: Obj) -> int:
        """Delete ``owner``'s pods, then ``owner``; return how many pods went."""
        pods = self.owned("pods", owner)
        for pod in pods:
            self.b.delete("pods", pod)
        self.b.delete(plural, owner)
        return len(pods)

    def resize(self, dep: Obj, rs: Obj, replicas: int, *, ready: int) -> None:
        """Write the new size into the ReplicaSet, then the Deployment (specs and statuses)."""
        now = self.now()
        rs["spec"]["replicas"] = replicas
        rs_annotations = rs["metadata"].setdefault("annotations", {})
        rs_annotations["deployment.kubernetes.io/desired-replicas"] = str(replicas)
        rs["status"] = replicaset_status(rs, ready=ready)
        _observe(rs)
        set_managed(rs, status_entry(KCM, rs, now=now))
        self.b.update("replicasets", rs)
        dep["spec"]["replicas"] = replicas
        dep["status"] = deployment_status(dep, ready=ready, rs_name=rs["metadata"]["name"], now=now)
        _observe(dep)
        set_managed(dep, status_entry(KCM, dep, now=now))
        self.b.update("deployments", dep)

    def scale_up(self) -> str | None:
        """A Deployment grows by one: ReplicaSet first, then a new (Pending) pod."""
        dep = self.b.pick("deployments", lambda d: 0 < d["spec"].get("replicas", 0) < 12)
        rs = self.current_replicaset(dep) if dep else None
        if dep is None or rs is None:
            return None
        replicas = dep["spec"]["replicas"] + 1
        self.resize(dep, rs, replicas, ready=replicas - 1)
        rs = self.b.state.get("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])
        pod = self.b.replicaset_pod(rs, phase="Pending")
        namespace, name = key_of(dep)
        return f"scale up deployments {namespace}/{name} to {replicas}: {pod['metadata']['name']}"

    def fire_cronjob(self) -> str | None:
        """A CronJob's schedule comes round: a Job and its pod, the CronJob's status, and the
        oldest finished Jobs beyond the history limit removed."""
        cj = self.b.pick("cronjobs", lambda c: not c["spec"].get("suspend"))
        if cj is None:
            return None
        namespace, name = key_of(cj)
        now = self.now()
        minute = int(now // 60)
        jobs = self.b.index("jobs")
        while (namespace, f"{name}-{minute}") in jobs:
            minute += 1
        job = self.b.run_job(
            namespace, f"{name}-{minute}", owner=cj, phase="Pending", scheduled=minute * 60.0
        )
        cj = self.b.state.get("cronjobs", namespace, name)
        active = [*cj.get("status", {}).get("active", []), object_ref(job)]
        last_success = cj.get("status", {}).get("lastSuccessfulTime")
        cronjob_status(cj, active=active, last_schedule=now, last_success=None)
        if last_success:
            cj["status"]["lastSuccessfulTime"] = last_success
        self.b.update("cronjobs", cj)
        finished = sorted(
            (j for j in self.owned("jobs", cj) if not j.get("status", {}).get("active")),
            key=lambda j: j["metadata"]["name"],
        )
        limit = int(cj["spec"].get("successfulJobsHistoryLimit", 3))
        for old in finished[: max(0, len(finished) - limit)]:
            self.delete_with_pods("jobs", old)
        return f"create jobs {namespace}/{job['metadata']['name']} (CronJob {name})"

    def new_app(self) -> str | None:
        """Someone deploys a new application (Deployment, ReplicaSet, pods and extras)."""
        namespace = self.app_namespace()
        if namespace is None:
            return None
        base = self.rng.choice(catalog.APP_NAMES) + self.rng.choice(catalog.APP_ROLES)
        dep = self.b.deployment_app(namespace, base, old_revisions=0)
        return f"create deployments {namespace}/{dep['metadata']['name']}"

    def finish_job(self) -> str | None:
        """A running Job's pod completes: pod, then Job, then its CronJob's status."""
        job = self.b.pick("jobs", lambda j: bool(j.get("status", {}).get("active")))
        if job is None:
            return None
        now = self.now()
        succeeded = self.rng.random() < 0.92
        for pod in self.owned("pods", job):
            if pod["status"]["phase"] in ("Pending", "Running"):
                complete_pod(pod, self.rng, now=now, succeeded=succeeded)
            pod["metadata"].pop("finalizers", None)  # the Job controller has counted it
            self.b.update("pods", pod)
        start = job["status"].get("startTime")
        job["status"] = job_status(phase="Succeeded" if succeeded else "Failed", start=now, now=now)
        if start:
            job["status"]["startTime"] = start
        set_managed(job, status_entry(KCM, job, now=now))
        self.b.update("jobs", job)
        owner = controller_of(job)
        if owner is not None and owner["kind"] == "CronJob":
            cj = self.b.fetch("cronjobs", job["metadata"]["namespace"], owner["name"])
            if cj is not None:
                status = cj.setdefault("status", {})
                active = [a for a in status.get("active", []) if a["uid"] != job["metadata"]["uid"]]
                status.pop("active", None)
                if active:
                    status["active"] = active
                if succeeded:
                    status["lastSuccessfulTime"] = rfc3339(now)
                set_managed(cj, status_entry(KCM, cj, now=now))
                self.b.update("cronjobs", cj)
        outcome = "succeeded" if succeeded else "failed"
        return f"update jobs {key_of(job)[0]}/{key_of(job)[1]}: {outcome}"

    def sync_endpointslice(self) -> str | None:
        """The EndpointSlice controller catches up with its Service's pods."""
        eps = self.b.pick(
            "endpointslices", lambda e: (controller_of(e) or {}).get("kind") == "Service"
        )
        if eps is None:
            return None
        namespace = eps["metadata"]["namespace"]
        owner = controller_of(eps)
        assert owner is not None
        svc = self.b.fetch("services", namespace, owner["name"])
        selector = (svc or {}).get("spec", {}).get("selector")
        if not selector:
            return None
        pods = [
            p
            for p in self.selected_pods(namespace, owner["name"])
            if all(p["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
        ]
        endpoints = endpoints_for(pods, zones=self.b.layout.zones)
        if endpoints == eps["endpoints"]:
            return None
        now = self.now()
        eps["endpoints"] = endpoints
        eps["metadata"].setdefault("annotations", {})[
            "endpoints.kubernetes.io/last-change-trigger-time"
        ] = rfc3339(now)
        set_slice_managed(eps, now=now)
        self.b.update("endpointslices", eps)
        name = eps["metadata"]["name"]
        return f"update endpointslices {namespace}/{name}: {len(endpoints)} endpoints"

    def rollout(self) -> str | None:
        """A new image (or ``kubectl rollout restart``): a new ReplicaSet and pods, the old pods
        gone and the old ReplicaSets scaled to 0 (the oldest beyond history removed)."""
        dep = self.b.pick("deployments", lambda d: d["spec"].get("replicas", 0) > 0)
        if dep is None:
            return None
        now = self.now()
        namespace, name = key_of(dep)
        template = dep["spec"]["template"]
        main = template["spec"]["containers"][0]
        if self.rng.random() < 0.6:
            main["image"] = _newer_image(main["image"], self.rng.randint(2, 99))
        else:
            annotations = template["metadata"].setdefault("annotations", {})
            annotations["kubectl.kubernetes.io/restartedAt"] = rfc3339(now)
        old_sets = self.owned("replicasets", dep)
        revision = max((_revision(rs) for rs in old_sets), default=0) + 1
        dep["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = str(
            revision
        )
        replicas = dep["spec"]["replicas"]
        dep = self.b.update("deployments", dep)
        rs = self.b.create(
            "replicasets",
            make_replicaset(
                self.rng,
                deployment=dep,
                pod_template_hash=template_hash(self.rng),
                replicas=replicas,
                revision=revision,
                now=now,
            ),
        )
        for _ in range(replicas):
            self.b.replicaset_pod(rs, phase="Pending")
        for old in old_sets:
            for pod in self.owned("pods", old):
                self.b.delete("pods", pod)
            if old["spec"].get("replicas"):
                old["spec"]["replicas"] = 0
                old["status"] = {"replicas": 0}
                _observe(old)
                self.b.update("replicasets", old)
        history = sorted(old_sets, key=_revision)
        for old in history[: max(0, len(history) - 3)]:
            self.b.delete("replicasets", old)
        self.resize(dep, rs, replicas, ready=0)
        return f"rollout deployments {namespace}/{name}: revision {revision}"

    def replace_pod(self) -> str | None:
        """A pod is deleted (evicted, drained, killed) and its controller replaces it."""

        def replaceable(pod: Obj) -> bool:
            ref = controller_of(pod)
            return ref is not None and ref["kind"] in ("ReplicaSet", "DaemonSet", "StatefulSet")

        pod = self.b.pick("pods", replaceable)
        if pod is None:
            return None
        ref = controller_of(pod)
        assert ref is not None
        namespace, name = key_of(pod)
        owner = self.b.fetch(PLURAL_OF[ref["kind"]], namespace, ref["name"])
        if owner is None or owner["metadata"]["uid"] != ref["uid"]:
            return None
        self.b.delete("pods", pod)
        slot = next((n for n in self.b.layout.nodes if n.name == pod["spec"].get("nodeName")), None)
        if ref["kind"] == "ReplicaSet":
            new = self.b.replicaset_pod(owner, phase="Pending")
        elif ref["kind"] == "DaemonSet" and slot is not None:
            labels = {
                k: v
                for k, v in pod["metadata"]["labels"].items()
                if k in ("controller-revision-hash", "pod-template-generation")
            }
            new = self.b.place_pod(
                {
                    "namespace": namespace,
                    "name": f"{ref['name']}-{suffix(self.rng)}",
                    "owner": owner,
                    "template": owner["spec"]["template"],
                    "labels": labels,
                    "daemon": True,
                    "phase": "Pending",
                },
                node=slot,
            )
        elif ref["kind"] == "StatefulSet" and slot is not None:
            index = int(pod["metadata"]["labels"].get("apps.kubernetes.io/pod-index", "0"))
            revision = (
                pod["metadata"]["labels"].get("controller-revision-hash", "").rsplit("-", 1)[-1]
            )
            fresh = make_pod(
                self.rng,
                namespace=namespace,
                name=name,
                node_name=slot.name,
                owner=owner,
                template=owner["spec"]["template"],
                phase="Pending",
                host_ip=slot.ip,
                pod_ip=self.b.layout.pod_ip(slot),
                now=self.now(),
            )
            statefulset_pod_extras(owner, fresh, index=index, revision_hash=revision)
            new = self.b.create("pods", fresh)
        else:
            return f"delete pods {namespace}/{name}"
        return f"delete pods {namespace}/{name} (replaced by {new['metadata']['name']})"

    def scale_down(self) -> str | None:
        """A Deployment shrinks by one: a pod goes, then the ReplicaSet and Deployment sizes."""
        dep = self.b.pick("deployments", lambda d: d["spec"].get("replicas", 0) > 1)
        rs = self.current_replicaset(dep) if dep else None
        pods = self.owned("pods", rs) if rs else []
        if dep is None or rs is None or not pods:
            return None
        self.b.delete("pods", self.rng.choice(pods))
        replicas = dep["spec"]["replicas"] - 1
        rs = self.b.state.get("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])
        self.resize(dep, rs, replicas, ready=replicas)
        return f"scale down deployments {key_of(dep)[0]}/{key_of(dep)[1]} to {replicas}"

    def delete_deployment(self) -> str | None:
        """An app is removed: pods, ReplicaSets, HPA, Ingress, slices, Service, policy, then the
        Deployment (dependents first, so no pod outlives its owner even for a moment)."""
        dep = self.b.pick(
            "deployments", lambda d: d["metadata"]["namespace"] not in SYSTEM_NAMESPACES
        )
        if dep is None:
            return None
        namespace, name = key_of(dep)
        pods = 0
        for rs in self.owned("replicasets", dep):
            pods += self.delete_with_pods("replicasets", rs)
        for hpa in self.b.state.list_objects("horizontalpodautoscalers", namespace):
            if hpa["spec"]["scaleTargetRef"]["name"] == name:
                self.b.delete("horizontalpodautoscalers", hpa)
        svc = self.b.fetch("services", namespace, name)
        if svc is not None and svc["spec"].get("selector") == {"app": name}:
            for ing in self.b.state.list_objects("ingresses", namespace):
                backends = [
                    p["backend"]["service"]["name"]
                    for r in ing["spec"].get("rules", [])
                    for p in r.get("http", {}).get("paths", [])
                ]
                if name in backends:
                    self.b.delete("ingresses", ing)
            for eps in self.owned("endpointslices", svc):
                self.b.delete("endpointslices", eps)
            self.b.delete("services", svc)
            policy = self.b.fetch("networkpolicies", namespace, f"{name}-ingress")
            if policy is not None:
                self.b.delete("networkpolicies", policy)
        self.b.delete("deployments", dep)
        return f"delete deployments {namespace}/{name} (+{pods} pods)"

    def delete_job(self) -> str | None:
        """A finished Job is cleaned up (TTL or by hand): its pods, then the Job."""
        job = self.b.pick("jobs", lambda j: not j.get("status", {}).get("active"))
        if job is None:
            return None
        pods = self.delete_with_pods("jobs", job)
        return f"delete jobs {key_of(job)[0]}/{key_of(job)[1]} (+{pods} pods)"
