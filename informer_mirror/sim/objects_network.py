"""Networking objects of the simulated cluster: Services, EndpointSlices, Ingresses and
NetworkPolicies.

Place in the data flow: called by ``objects.populate`` and ``churn`` to build objects for
``ClusterState``. Pure functions of their arguments and the ``random.Random`` passed in; callable
from any thread; owns nothing.

An EndpointSlice is owned by its Service and lists the pods its selector matches, with their IPs,
nodes, readiness and targetRef uids, as the EndpointSlice controller writes it; ``endpoints_for``
rebuilds that list so churn can keep slices current as pods come and go.
"""

from __future__ import annotations

import random

from informer_mirror.sim.objects_meta import (
    Obj,
    add_managed,
    deploy_with,
    hex_digits,
    managed_entry,
    metadata,
    resolve_now,
    rfc3339,
    suffix,
)

SLICE_MANAGER = "endpointslice-controller.k8s.io"


def make_service(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    selector: dict[str, str] | None,
    ports: list[tuple[str, int, int, str]],
    cluster_ip: str | None,
    service_type: str = "ClusterIP",
    deployer: str = "kubectl-client-side-apply",
    labels: dict[str, str] | None = None,
    now: float | None = None,
) -> Obj:
    """A Service; ``ports`` are (name, port, targetPort, protocol); ``cluster_ip`` None makes it
    headless. NodePort and LoadBalancer get node ports; a LoadBalancer also its cloud hostname
    and the cleanup finalizer the service controller adds."""
    now = resolve_now(now)
    svc_ports: list[Obj] = []
    for port_name, port, target, protocol in ports:
        entry: Obj = {"name": port_name, "protocol": protocol, "port": port, "targetPort": target}
        if service_type in ("NodePort", "LoadBalancer"):
            entry["nodePort"] = rng.randint(30000, 32767)
        svc_ports.append(entry)
    spec: Obj = {"ports": svc_ports}
    if selector is not None:
        spec["selector"] = dict(selector)
    ip = cluster_ip if cluster_ip is not None else "None"
    spec.update(
        clusterIP=ip,
        clusterIPs=[ip],
        type=service_type,
        sessionAffinity="None",
        ipFamilies=["IPv4"],
        ipFamilyPolicy="SingleStack",
        internalTrafficPolicy="Cluster",
    )
    if service_type in ("NodePort", "LoadBalancer"):
        spec["externalTrafficPolicy"] = "Cluster"
    finalizers = None
    status: Obj = {"loadBalancer": {}}
    if service_type == "LoadBalancer":
        spec["allocateLoadBalancerNodePorts"] = True
        finalizers = ["service.kubernetes.io/load-balancer-cleanup"]
        host = (
            f"a{hex_digits(rng, 31)}-{rng.randint(10**9, 10**10 - 1)}.eu-west-1.elb.amazonaws.com"
        )
        status = {"loadBalancer": {"ingress": [{"hostname": host}]}}
    svc: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(
            name=name, namespace=namespace, labels=labels or {"app": name}, finalizers=finalizers
        ),
        "spec": spec,
    }
    deploy_with(svc, deployer, now=now, release=name)
    svc["status"] = status
    if finalizers:
        fragment = {"metadata": {"finalizers": finalizers}, "status": status}
        add_managed(
            svc,
            managed_entry("cloud-controller-manager", api_version="v1", now=now, fragment=fragment),
        )
    return svc


def endpoints_for(pods: list[Obj], *, zones: dict[str, str] | None = None) -> list[Obj]:
    """Slice endpoints for ``pods`` (as stored): one per pod that has an IP, with readiness."""
    endpoints: list[Obj] = []
    for pod in pods:
        status = pod.get("status", {})
        if not status.get("podIP") or pod["metadata"].get("deletionTimestamp"):
            continue
        ready = any(
            c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", [])
        )
        node = pod["spec"].get("nodeName", "")
        endpoint: Obj = {
            "addresses": [status["podIP"]],
            "conditions": {"ready": ready, "serving": ready, "terminating": False},
            "targetRef": {
                "kind": "Pod",
                "namespace": pod["metadata"]["namespace"],
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            },
            "nodeName": node,
        }
        if zones and node in zones:
            endpoint["zone"] = zones[node]
        endpoints.append(endpoint)
    return endpoints


def make_endpointslice(
    rng: random.Random,
    *,
    service: Obj,
    endpoints: list[Obj],
    ports: list[tuple[str, int, str]],
    name: str | None = None,
    now: float | None = None,
) -> Obj:
    """The EndpointSlice controller's slice for ``service`` (as created), owned by it.

    ``endpoints`` come from ``endpoints_for``; ``ports`` are (name, resolved port, protocol).
    """
    now = resolve_now(now)
    svc_meta = service["metadata"]
    svc_name = svc_meta["name"]
    labels = {
        **svc_meta.get("labels", {}),
        "endpointslice.kubernetes.io/managed-by": SLICE_MANAGER,
        "kubernetes.io/service-name": svc_name,
    }
    if service["spec"].get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    eps: Obj = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": metadata(
            name=name or f"{svc_name}-{suffix(rng)}",
            generate_name=f"{svc_name}-",
            namespace=svc_meta["namespace"],
            labels=labels,
            annotations={"endpoints.kubernetes.io/last-change-trigger-time": rfc3339(now)},
            owner=service,
        ),
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports],
    }
    set_slice_managed(eps, now=now)
    return eps


def set_slice_managed(eps: Obj, *, now: float) -> None:
    """(Re)write the slice controller's managedFields entry after a change (in place)."""
    meta = eps["metadata"]
    written = {
        k: v
        for k, v in meta.items()
        if k in ("labels", "annotations", "ownerReferences", "generateName")
    }
    fragment = {
        "addressType": "",
        "endpoints": eps["endpoints"],
        "metadata": written,
        "ports": eps["ports"],
    }
    meta["managedFields"] = [
        managed_entry(
            "kube-controller-manager", api_version="discovery.k8s.io/v1", now=now, fragment=fragment
        )
    ]


def make_ingress(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    host: str,
    service: str,
    port: int,
    tls_secret: str | None = None,
    deployer: str = "helm",
    now: float | None = None,
) -> Obj:
    """An Ingress for ``host`` routing to ``service``:``port`` (optionally TLS via cert-manager)
    with the address the ingress controller published."""
    now = resolve_now(now)
    backend = {"service": {"name": service, "port": {"number": port}}}
    paths = [{"path": "/", "pathType": "Prefix", "backend": backend}]
    if rng.random() < 0.4:
        paths.insert(0, {"path": "/api", "pathType": "Prefix", "backend": backend})
    spec: Obj = {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": paths}}]}
    annotations = {"nginx.ingress.kubernetes.io/proxy-body-size": rng.choice(("1m", "8m", "50m"))}
    if tls_secret:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
        annotations["cert-manager.io/cluster-issuer"] = "letsencrypt-prod"
    ing: Obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata(
            name=name, namespace=namespace, labels={"app": name}, annotations=annotations
        ),
        "spec": spec,
    }
    deploy_with(ing, deployer, now=now, release=name)
    ing["status"] = {"loadBalancer": {"ingress": [{"ip": f"10.0.250.{rng.randint(2, 254)}"}]}}
    add_managed(
        ing,
        managed_entry(
            "nginx-ingress-controller",
            api_version="networking.k8s.io/v1",
            now=now,
            fragment={"status": ing["status"]},
            subresource="status",
        ),
    )
    return ing


def make_networkpolicy(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    app: str | None,
    port: int | None = None,
    allow_from: tuple[str, ...] = (),
    deployer: str = "kubectl-client-side-apply",
    now: float | None = None,
) -> Obj:
    """A NetworkPolicy: ``app`` None is the namespace's default-deny; otherwise ingress to
    ``app`` (on ``port``) from the ``allow_from`` apps and the ingress controller's namespace."""
    now = resolve_now(now)
    spec: Obj
    if app is None:
        spec = {"podSelector": {}, "policyTypes": ["Ingress"]}
    else:
        peers: list[Obj] = [
            {"podSelector": {"matchLabels": {"app": other}}} for other in allow_from
        ]
        peers.append(
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
        )
        rule: Obj = {"from": peers}
        if port is not None:
            rule["ports"] = [{"protocol": "TCP", "port": port}]
        spec = {
            "podSelector": {"matchLabels": {"app": app}},
            "ingress": [rule],
            "policyTypes": ["Ingress"],
        }
        if rng.random() < 0.3:
            dns = {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
            spec["egress"] = [{"to": [dns], "ports": [{"protocol": "UDP", "port": 53}]}]
            spec["policyTypes"].append("Egress")
    netpol: Obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name=name, namespace=namespace),
        "spec": spec,
    }
    deploy_with(netpol, deployer, now=now, release=name)
    return netpol
