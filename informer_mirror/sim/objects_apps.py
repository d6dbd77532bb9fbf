"""Whole applications in a ``ClusterState``, created owner first so every ownerReference names an
object that exists, with its real uid.

Place in the data flow: on top of ``objects_jobs``/``objects_infra`` (placement, bookkeeping,
writes) and the pure factories. ``objects.populate`` builds the initial cluster from these;
``churn`` uses them to add apps, scale up, fire CronJobs and write Events at run time. One
``AppBuilder`` per thread.

Shapes, as the controllers leave them:

- Deployment -> ReplicaSets (the current one with the pods, older revisions scaled to 0) -> Pods,
  plus the ConfigMaps/Secrets/ServiceAccount the template references, and often a Service with
  its EndpointSlice, an HPA, an Ingress (with a cert-manager TLS Secret) and a NetworkPolicy;
- StatefulSet -> Pods ``name-0..n`` each with PVC ``data-name-i`` bound to a PV, a headless
  Service and its EndpointSlice;
- DaemonSet -> one Pod per node; (``objects_jobs``) CronJob -> Jobs -> one Pod each.
"""

from __future__ import annotations

from typing import Any

from informer_mirror.sim import objects_catalog as catalog
from informer_mirror.sim.objects_builder import NodeSlot
from informer_mirror.sim.objects_core import make_secret
from informer_mirror.sim.objects_events import make_event
from informer_mirror.sim.objects_jobs import JobBuilder
from informer_mirror.sim.objects_meta import Obj, suffix, template_hash
from informer_mirror.sim.objects_network import make_ingress, make_networkpolicy
from informer_mirror.sim.objects_pods import make_pod, make_pod_template
from informer_mirror.sim.objects_storage import (
    bind_claim,
    make_persistentvolume,
    make_persistentvolumeclaim,
)
from informer_mirror.sim.objects_workloads import (
    make_daemonset,
    make_deployment,
    make_horizontalpodautoscaler,
    make_replicaset,
    make_statefulset,
    statefulset_pod_extras,
)

REPLICA_CHOICES = (1, 1, 2, 2, 2, 3, 3, 3, 4, 5, 6, 8, 10)
"""Deployment sizes: most are small, a few are wide."""

_EVENT_KIND_WEIGHTS = (
    ("Pod", 70),
    ("ReplicaSet", 6),
    ("Deployment", 6),
    ("Job", 4),
    ("CronJob", 3),
    ("StatefulSet", 2),
    ("DaemonSet", 1),
    ("Node", 3),
    ("HorizontalPodAutoscaler", 2),
    ("PersistentVolumeClaim", 1),
    ("Service", 1),
)


def older_template(template: Obj, rng: Any) -> Obj:
    """``template`` as it was one rollout ago: the main container on an older image tag."""
    spec = dict(template["spec"])
    containers = [dict(c) for c in spec["containers"]]
    repo, _, tag = containers[0]["image"].rpartition(":")
    major, _, rest = tag.lstrip("v").partition(".")
    older = f"{major}.{rest}-{suffix(rng, 3)}" if rest else f"{tag}-{suffix(rng, 3)}"
    containers[0]["image"] = f"{repo}:{'v' if tag.startswith('v') else ''}{older}"
    spec["containers"] = containers
    return {"metadata": template["metadata"], "spec": spec}


class AppBuilder(JobBuilder):
    """Creates applications (see the module docstring) and the Events about them."""

    # -- Deployments -----------------------------------------------------------------------------

    def deployment_app(
        self,
        namespace: str,
        base: str,
        *,
        replicas: int | None = None,
        profile: catalog.AppProfile | None = None,
        full: bool = False,
        old_revisions: int | None = None,
    ) -> Obj:
        """A Deployment with its ReplicaSets, Pods and (``full``: all of) its extras."""
        rng = self.rng
        name = self.layout.fresh_name("deployments", namespace, base, "services")
        replicas = rng.choice(REPLICA_CHOICES) if replicas is None else replicas
        if full and profile is None:  # the extras hang off a Service: the app must serve a port
            profile = rng.choice([p for p in catalog.WEB_APPS if p.main.ports])
        deployer = self.pick_deployer()
        labels = {"app": name}
        template = make_pod_template(
            rng,
            app=name,
            namespace=namespace,
            labels=labels,
            profile=profile,
            service_account=name if full or rng.random() < 0.4 else None,
        )
        self.dependencies(namespace, template, deployer=deployer)
        old = rng.choice((0, 1, 1, 2, 3)) if old_revisions is None else old_revisions
        pod_hash = template_hash(rng)
        dep = self.create(
            "deployments",
            make_deployment(
                rng,
                namespace=namespace,
                name=name,
                replicas=replicas,
                template=template,
                pod_template_hash=pod_hash,
                revision=old + 1,
                deployer=deployer,
                now=self.clock(),
            ),
        )
        previous = template
        for revision in range(old, 0, -1):
            previous = older_template(previous, rng)
            self.create(
                "replicasets",
                make_replicaset(
                    rng,
                    deployment=dep,
                    pod_template_hash=template_hash(rng),
                    replicas=0,
                    revision=revision,
                    template=previous,
                    now=self.clock(),
                ),
            )
        rs = self.create(
            "replicasets",
            make_replicaset(
                rng,
                deployment=dep,
                pod_template_hash=pod_hash,
                replicas=replicas,
                revision=old + 1,
                now=self.clock(),
            ),
        )
        pods = [self.replicaset_pod(rs) for _ in range(replicas)]
        if full or rng.random() < 0.8:
            service_type = "NodePort" if rng.random() < 0.05 else "ClusterIP"
            svc = self.service_for(
                namespace,
                name,
                template=template,
                pods=pods,
                service_type=service_type,
                deployer=deployer,
            )
            if svc is not None:
                self._web_extras(namespace, name, dep, svc, replicas=replicas, full=full)
        return dep

    def replicaset_pod(self, rs: Obj, *, phase: str = "Running") -> Obj:
        """A new pod of ``rs`` (as stored), created."""
        name = rs["metadata"]["name"]
        return self.place_pod(
            {
                "namespace": rs["metadata"]["namespace"],
                "name": f"{name}-{suffix(self.rng)}",
                "owner": rs,
                "template": rs["spec"]["template"],
                "phase": phase,
            }
        )

    def _web_extras(
        self, namespace: str, name: str, dep: Obj, svc: Obj, *, replicas: int, full: bool
    ) -> None:
        rng, now = self.rng, self.clock()
        port = svc["spec"]["ports"][0]["port"]
        if full or rng.random() < 0.25:
            self.create(
                "horizontalpodautoscalers",
                make_horizontalpodautoscaler(
                    rng,
                    namespace=namespace,
                    name=name,
                    target=dep,
                    current_replicas=replicas,
                    now=now,
                ),
            )
        if full or rng.random() < 0.15:
            host = f"{name}.{namespace}.example.com"
            tls = None
            if full or rng.random() < 0.6:
                tls = f"{name}-tls"
                secret = make_secret(
                    rng,
                    namespace=namespace,
                    name=tls,
                    type_="kubernetes.io/tls",
                    hosts=(host,),
                    now=now,
                )
                self.ensure("secrets", secret)
            ingress = make_ingress(
                rng,
                namespace=namespace,
                name=name,
                host=host,
                service=name,
                port=port,
                tls_secret=tls,
                now=now,
            )
            self.create("ingresses", ingress)
        if full or rng.random() < 0.2:
            target = svc["spec"]["ports"][0]["targetPort"]
            container_ports = dep["spec"]["template"]["spec"]["containers"][0].get("ports", [])
            number = next(
                (p["containerPort"] for p in container_ports if p["name"] == target), None
            )
            netpol = make_networkpolicy(
                rng,
                namespace=namespace,
                name=f"{name}-ingress",
                app=name,
                port=number,
                allow_from=("gateway",) if rng.random() < 0.5 else (),
                now=now,
            )
            self.ensure("networkpolicies", netpol)

    # -- StatefulSets and DaemonSets -------------------------------------------------------------

    def statefulset_app(self, namespace: str, base: str) -> Obj:
        """A StatefulSet with ordinal pods, a bound PVC/PV pair per pod, a headless Service."""
        rng = self.rng
        profile = rng.choice(catalog.STATEFUL_APPS)
        name = self.layout.fresh_name(
            "statefulsets", namespace, f"{base}-{profile.key}", "services"
        )
        replicas = rng.choice((1, 1, 2, 3))
        labels = {"app": name}
        template = make_pod_template(
            rng,
            app=base,
            namespace=namespace,
            labels=labels,
            profile=profile,
            claim_volumes=("data",),
        )
        deployer = self.pick_deployer()
        self.dependencies(namespace, template, deployer=deployer)
        revision_hash = template_hash(rng)
        storage_class = rng.choice(catalog.STORAGE_CLASSES)
        storage = rng.choice(("1Gi", "10Gi", "20Gi", "100Gi"))
        sts = self.create(
            "statefulsets",
            make_statefulset(
                rng,
                namespace=namespace,
                name=name,
                replicas=replicas,
                template=template,
                service_name=name,
                revision_hash=revision_hash,
                storage_class=storage_class,
                storage=storage,
                deployer=deployer,
                now=self.clock(),
            ),
        )
        pods = []
        for index in range(replicas):
            node = rng.choice(self.layout.workers)
            self.bound_claim(
                namespace,
                f"data-{name}-{index}",
                zone=node.zone,
                storage_class=storage_class,
                storage=storage,
                labels=labels,
            )
            pods.append(self._statefulset_pod(sts, node, index, revision_hash))
        self.service_for(namespace, name, template=template, pods=pods, headless=True)
        return sts

    def _statefulset_pod(self, sts: Obj, node: NodeSlot, index: int, revision_hash: str) -> Obj:
        name = sts["metadata"]["name"]
        pod = make_pod(
            self.rng,
            namespace=sts["metadata"]["namespace"],
            name=f"{name}-{index}",
            node_name=node.name,
            owner=sts,
            template=sts["spec"]["template"],
            host_ip=node.ip,
            pod_ip=self.layout.pod_ip(node),
            now=self.clock(),
        )
        statefulset_pod_extras(sts, pod, index=index, revision_hash=revision_hash)
        return self.create("pods", pod)

    def bound_claim(
        self,
        namespace: str,
        name: str,
        *,
        zone: str,
        storage_class: str,
        storage: str,
        labels: dict[str, str] | None = None,
    ) -> Obj:
        """A PVC, the PV provisioned for it (``pvc-<uid>``), and the PVC bound to it."""
        now = self.clock()
        pvc = self.create(
            "persistentvolumeclaims",
            make_persistentvolumeclaim(
                self.rng,
                namespace=namespace,
                name=name,
                storage_class=storage_class,
                storage=storage,
                labels=labels,
                now=now,
            ),
        )
        pv = self.create(
            "persistentvolumes", make_persistentvolume(self.rng, claim=pvc, zone=zone, now=now)
        )
        bind_claim(pvc, pv, now=now)
        return self.update("persistentvolumeclaims", pvc)

    def daemonset(self, namespace: str, name: str, profile: catalog.AppProfile) -> Obj:
        """A DaemonSet and its pod on every node."""
        rng = self.rng
        labels = {"app": name}
        template = make_pod_template(
            rng, app=name, namespace=namespace, labels=labels, profile=profile
        )
        self.dependencies(namespace, template, deployer="helm")
        revision_hash = template_hash(rng)
        ds = self.create(
            "daemonsets",
            make_daemonset(
                rng,
                namespace=namespace,
                name=name,
                template=template,
                nodes=len(self.layout.nodes),
                now=self.clock(),
            ),
        )
        for node in self.layout.nodes:
            self.place_pod(
                {
                    "namespace": namespace,
                    "name": f"{name}-{suffix(rng)}",
                    "owner": ds,
                    "template": template,
                    "labels": {
                        "controller-revision-hash": revision_hash,
                        "pod-template-generation": "1",
                    },
                    "daemon": True,
                },
                node=node,
            )
        return ds

    # -- Events ----------------------------------------------------------------------------------

    def event_about(self, involved: Obj, *, reason: str | None = None) -> Obj:
        """Create an Event about ``involved`` (as stored, or a stub of it)."""
        count = 1 if self.rng.random() < 0.8 else self.rng.randint(2, 40)
        event = make_event(
            self.rng, involved=involved, reason=reason, count=count, now=self.clock()
        )
        return self.create("events", event)

    def random_event(self) -> Obj | None:
        """An Event about a random object created so far (mostly pods); None if none known."""
        kinds = [(k, w) for k, w in _EVENT_KIND_WEIGHTS if self.stubs.get(k)]
        if not kinds:
            return None
        kind = self.rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
        return self.event_about(self.rng.choice(self.stubs[kind]))
