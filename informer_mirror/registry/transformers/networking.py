"""Transformers of networking.k8s.io/v1 (Ingress, NetworkPolicy) and discovery.k8s.io/v1
(EndpointSlice).

Place in the data flow: called through ``ResourceSpec.to_document`` on each resource's reflector
thread, once per object entering the Store. Pure functions; own nothing.
"""

from __future__ import annotations

from typing import Any

from informer_mirror.registry.transformers.common import (
    Doc,
    Obj,
    TransformOptions,
    i,
    items,
    label_selector,
    load_balancer_ingress,
    m,
    s,
    str_map,
    strs,
)

INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _backend(backend: Any) -> str | None:
    """An IngressBackend as ``service:port`` (port by number or name) or ``Kind/name``."""
    service = m(backend, "service")
    if service:
        port = m(service, "port")
        number = i(port.get("number"))
        return f"{s(service.get('name'))}:{number if number is not None else s(port.get('name'))}"
    resource = m(backend, "resource")
    if resource:
        return f"{s(resource.get('kind'))}/{s(resource.get('name'))}"
    return None


def ingress_fields(obj: Obj, _options: TransformOptions) -> Doc:
    """Ingress: class, rules (host, path, backend), hosts, TLS hosts, load balancer addresses."""
    spec = m(obj, "spec")
    rules: list[Doc] = []
    for rule in items(spec.get("rules")):
        paths = [
            {
                "path": s(p.get("path")),
                "pathType": s(p.get("pathType")),
                "backend": _backend(p.get("backend")),
            }
            for p in items(m(rule, "http").get("paths"))
        ]
        rules.append({"host": s(rule.get("host")), "paths": paths})
    annotations = str_map(m(obj, "metadata").get("annotations"))
    return {
        # the annotation predates ingressClassName and is still common
        "ingressClass": s(spec.get("ingressClassName"))
        or annotations.get(INGRESS_CLASS_ANNOTATION),
        "rules": rules,
        "hosts": sorted({h for r in rules if isinstance(h := r["host"], str)}),
        "tlsHosts": sorted({h for t in items(spec.get("tls")) for h in strs(t.get("hosts"))}),
        "defaultBackend": _backend(spec.get("defaultBackend")),
        "loadBalancerIngress": load_balancer_ingress(m(obj, "status")),
    }


def networkpolicy_fields(obj: Obj, _options: TransformOptions) -> Doc:
    """NetworkPolicy: pod selector, policy types, rule counts and the peers' selectors."""
    spec = m(obj, "spec")
    ingress, egress = items(spec.get("ingress")), items(spec.get("egress"))
    types = strs(spec.get("policyTypes"))
    if not types:
        # the server's defaulting: Ingress always, Egress only when egress rules exist
        types = ["Ingress", "Egress"] if egress else ["Ingress"]

    def peers(rules: list[Any], key: str) -> list[Doc]:
        return [
            {
                "podSelector": label_selector(peer.get("podSelector")),
                "namespaceSelector": label_selector(peer.get("namespaceSelector")),
                "ipBlock": s(m(peer, "ipBlock").get("cidr")),
            }
            for rule in rules
            for peer in items(rule.get(key))
        ]

    return {
        "podSelector": label_selector(spec.get("podSelector")),
        "policyTypes": types,
        "ingressRules": len(ingress),
        "egressRules": len(egress),
        "ingressFrom": peers(ingress, "from"),
        "egressTo": peers(egress, "to"),
    }


def endpointslice_fields(obj: Obj, _options: TransformOptions) -> Doc:
    """EndpointSlice: owning service, address type, endpoint counts (ready/total), ports."""
    root = m(obj)
    endpoints = items(root.get("endpoints"))
    # an absent `ready` means unknown, which consumers should treat as ready (API docs)
    ready = sum(1 for e in endpoints if m(e, "conditions").get("ready") is not False)
    labels = str_map(m(obj, "metadata").get("labels"))
    return {
        "serviceName": labels.get(SERVICE_NAME_LABEL),
        "addressType": s(root.get("addressType")),
        "endpoints": len(endpoints),
        "readyEndpoints": ready,
        "ports": [
            {"name": s(p.get("name")), "port": i(p.get("port")), "protocol": s(p.get("protocol"))}
            for p in items(root.get("ports"))
        ],
    }
