"""Cluster infrastructure in a ``ClusterState``: nodes, namespaces (with what every namespace
has), the objects a pod template refers to, Services with their EndpointSlices, pod placement,
the control plane's static pods and the ``kubernetes`` Service.

Place in the data flow: between the pure factories and ``ClusterState``, on top of
``objects_builder`` (bookkeeping and writes); ``objects_jobs`` and ``objects_apps`` build
applications on it, for ``objects.populate`` and ``churn``. One builder per thread.
"""

from __future__ import annotations

from informer_mirror.sim import objects_catalog as catalog
from informer_mirror.sim.objects_builder import NodeSlot, StateWriter
from informer_mirror.sim.objects_core import (
    cluster_ca,
    make_configmap,
    make_namespace,
    make_node,
    make_secret,
    make_serviceaccount,
)
from informer_mirror.sim.objects_meta import DEPLOYERS, Obj, managed_entry, suffix
from informer_mirror.sim.objects_network import endpoints_for, make_endpointslice, make_service
from informer_mirror.sim.objects_pods import make_pod, make_pod_template

_SYSTEM_CONFIG: dict[str, dict[str, str]] = {
    "coredns": {
        "Corefile": ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n"
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n"
        "       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n"
        "    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n"
        "    }\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n"
    },
    "kube-proxy": {
        "config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
        "kind: KubeProxyConfiguration\nclusterCIDR: 10.128.0.0/9\nmode: iptables\n"
        "metricsBindAddress: 0.0.0.0:10249\n",
        "kubeconfig.conf": "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
        "    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n"
        "    server: https://10.0.0.10:6443\n  name: default\n",
    },
}
_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)


class InfraBuilder(StateWriter):
    """Nodes, namespaces and what every namespace has (default ServiceAccount, CA ConfigMap),
    plus the references apps make (ConfigMaps, Secrets, ServiceAccounts)."""

    def node(self, index: int, *, control_plane: bool) -> Obj:
        """Create node number ``index`` (addresses and pod CIDR derive from the index)."""
        rng = self.rng
        ip = f"10.0.{index // 200}.{10 + index % 200}"
        name = f"ip-{ip.replace('.', '-')}.eu-west-1.compute.internal"
        zone = catalog.ZONES[index % len(catalog.ZONES)]
        prefix = f"10.{128 + index // 256}.{index % 256}."
        images = [
            f"{p.main.image}:{p.main.tags[0]}"
            for p in catalog.WEB_APPS + catalog.STATEFUL_APPS + catalog.BATCH_APPS
            if "{app}" not in p.main.image
        ]
        images += [f"{p.main.image}:{p.main.tags[0]}" for _ns, _n, p in catalog.NODE_AGENTS]
        if control_plane:
            images += [f"{c.image}:{c.tags[0]}" for c in catalog.CONTROL_PLANE]
        node = self.create(
            "nodes",
            make_node(
                rng,
                name=name,
                internal_ip=ip,
                pod_cidr=f"{prefix}0/24",
                zone=zone,
                control_plane=control_plane,
                pool=rng.choice(catalog.NODE_POOLS),
                images=rng.sample(images, k=min(len(images), rng.randint(6, 14))),
                now=self.clock(),
            ),
        )
        self.layout.nodes.append(
            NodeSlot(
                name=name,
                ip=ip,
                pod_prefix=prefix,
                zone=zone,
                control_plane=control_plane,
                uid=node["metadata"]["uid"],
            )
        )
        return node

    def namespace(self, name: str, *, labels: dict[str, str] | None = None) -> Obj:
        """Create a namespace with its ``default`` ServiceAccount and ``kube-root-ca.crt``."""
        now = self.clock()
        ns = self.create("namespaces", make_namespace(self.rng, name=name, labels=labels, now=now))
        self.ensure(
            "serviceaccounts",
            make_serviceaccount(self.rng, namespace=name, name="default", now=now),
        )
        if self._ca is None:
            self._ca = cluster_ca(self.rng)
        ca = make_configmap(
            self.rng,
            namespace=name,
            name="kube-root-ca.crt",
            data={"ca.crt": self._ca},
            deployer="kube-controller-manager",
            now=now,
        )
        ca["metadata"]["annotations"] = {"kubernetes.io/description": _CA_DESCRIPTION}
        self.ensure("configmaps", ca)
        return ns

    def dependencies(self, namespace: str, template: Obj, *, deployer: str) -> None:
        """Create the ConfigMaps, Secrets and ServiceAccount a pod template refers to."""
        rng, now = self.rng, self.clock()
        spec = template["spec"]
        configmaps: set[str] = set()
        secrets: set[str] = set()
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                configmaps.add(volume["configMap"]["name"])
        for container in spec["containers"] + spec.get("initContainers", []):
            for var in container.get("env", []):
                source = var.get("valueFrom", {})
                if "secretKeyRef" in source:
                    secrets.add(source["secretKeyRef"]["name"])
                if "configMapKeyRef" in source:
                    configmaps.add(source["configMapKeyRef"]["name"])
        for name in sorted(configmaps):
            cm = make_configmap(
                rng,
                namespace=namespace,
                name=name,
                data=_SYSTEM_CONFIG.get(name),
                deployer=deployer,
                now=now,
            )
            self.ensure("configmaps", cm)
        for name in sorted(secrets):
            self.ensure(
                "secrets",
                make_secret(rng, namespace=namespace, name=name, deployer=deployer, now=now),
            )
        sa = spec.get("serviceAccountName")
        if sa and sa != "default":
            self.ensure(
                "serviceaccounts",
                make_serviceaccount(rng, namespace=namespace, name=sa, deployer=deployer, now=now),
            )

    def service_for(
        self,
        namespace: str,
        name: str,
        *,
        template: Obj,
        pods: list[Obj],
        service_type: str = "ClusterIP",
        headless: bool = False,
        deployer: str = "kubectl-client-side-apply",
    ) -> Obj | None:
        """A Service selecting ``template``'s pods on its main container's ports, and the
        EndpointSlice listing ``pods``; None when the container exposes no ports."""
        rng, now = self.rng, self.clock()
        container = template["spec"]["containers"][0]
        ports = container.get("ports", [])
        if not ports:
            return None
        svc_ports = [
            (p["name"], 80 if p["name"] == "http" else p["containerPort"], p["name"], p["protocol"])
            for p in ports
        ]
        svc = self.create(
            "services",
            make_service(
                rng,
                namespace=namespace,
                name=name,
                selector={"app": template["metadata"]["labels"]["app"]},
                ports=[(n, port, target, proto) for n, port, target, proto in svc_ports],
                cluster_ip=None if headless else self.layout.service_ip(rng),
                service_type=service_type,
                deployer=deployer,
                now=now,
            ),
        )
        self.layout.taken.add(("services", namespace, name))
        slice_ports = [(p["name"], p["containerPort"], p["protocol"]) for p in ports]
        eps = make_endpointslice(
            rng,
            service=svc,
            endpoints=endpoints_for(pods, zones=self.layout.zones),
            ports=slice_ports,
            now=now,
        )
        self.create("endpointslices", eps)
        return svc

    def pick_deployer(self) -> str:
        """How the next app was deployed (kubectl apply, Helm, Argo CD, kubectl create)."""
        return self.rng.choice(DEPLOYERS)

    def place_pod(self, pod_args: dict[str, object], *, node: NodeSlot | None = None) -> Obj:
        """``make_pod`` on ``node`` (or a random worker) with an IP from its CIDR, created."""
        node = node or self.rng.choice(self.layout.workers)
        pod = make_pod(
            self.rng,
            node_name=node.name,
            host_ip=node.ip,
            pod_ip=self.layout.pod_ip(node),
            now=self.clock(),
            **pod_args,  # type: ignore[arg-type]
        )
        return self.create_pod(pod)

    def static_pods(self, node: NodeSlot) -> None:
        """The control plane's static pods on ``node``, mirrored to the API and owned by it."""
        owner: Obj = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": node.name, "uid": node.uid},
        }
        for container in catalog.CONTROL_PLANE:
            labels = {"component": container.name, "tier": "control-plane"}
            template = make_pod_template(
                self.rng,
                app=container.name,
                namespace="kube-system",
                labels=labels,
                profile=catalog.AppProfile(key=container.name, main=container),
            )
            template["spec"]["hostNetwork"] = True
            template["spec"]["priorityClassName"] = "system-node-critical"
            template["metadata"]["annotations"] = {
                "kubernetes.io/config.hash": suffix(self.rng, 32),
                "kubernetes.io/config.mirror": suffix(self.rng, 32),
                "kubernetes.io/config.source": "file",
            }
            pod = make_pod(
                self.rng,
                namespace="kube-system",
                name=f"{container.name}-{node.name}",
                node_name=node.name,
                owner=owner,
                template=template,
                host_ip=node.ip,
                pod_ip=node.ip,
                manager="kubelet",
                now=self.clock(),
            )
            pod["metadata"].pop("generateName", None)
            pod["spec"]["priority"] = 2000001000
            self.create("pods", pod)

    def kubernetes_service(self) -> None:
        """``default/kubernetes``: the API server's own Service and its EndpointSlice."""
        now = self.clock()
        self.layout.service_ips.add("10.96.0.1")
        svc = make_service(
            self.rng,
            namespace="default",
            name="kubernetes",
            selector=None,
            ports=[("https", 443, 6443, "TCP")],
            cluster_ip="10.96.0.1",
            labels={"component": "apiserver", "provider": "kubernetes"},
            deployer="kube-apiserver",
            now=now,
        )
        created = self.create("services", svc)
        endpoints = [
            {"addresses": [n.ip], "conditions": {"ready": True}}
            for n in self.layout.nodes
            if n.control_plane
        ]
        eps = make_endpointslice(
            self.rng,
            service=created,
            endpoints=endpoints,
            ports=[("https", 6443, "TCP")],
            name="kubernetes",
            now=now,
        )
        # the API server maintains this slice itself: no owner, its own manager
        del eps["metadata"]["ownerReferences"]
        del eps["metadata"]["generateName"]
        eps["metadata"]["labels"] = {"kubernetes.io/service-name": "kubernetes"}
        eps["metadata"]["managedFields"] = [
            managed_entry(
                "kube-apiserver",
                api_version="discovery.k8s.io/v1",
                now=now,
                fragment={"addressType": "", "endpoints": endpoints, "ports": eps["ports"]},
            )
        ]
        self.create("endpointslices", eps)
