"""Transformers of the core/v1 kinds other than Pod and Secret (``pods.py``, ``redaction.py``).

Place in the data flow: called through ``ResourceSpec.to_document`` on each resource's reflector
thread, once per object entering the Store. Pure functions; own nothing. Fields are the ones an
operator filters and sorts by; anything else stays in the cluster (or under ``raw`` when a spec
keeps it).
"""

from __future__ import annotations

from typing import Any, TypedDict

from informer_mirror.apitypes import ObjectMeta
from informer_mirror.registry.transformers.common import (
    Doc,
    Obj,
    TransformOptions,
    b,
    cap_text,
    condition_status,
    conditions,
    i,
    items,
    load_balancer_ingress,
    m,
    map_selector,
    s,
    scalar_map,
    str_map,
    strs,
)

NODE_ROLE_PREFIX = "node-role.kubernetes.io/"


def namespace_fields(obj: Obj, options: TransformOptions) -> Doc:
    """Namespace: phase (Active/Terminating) and conditions (why deletion is stuck)."""
    status = m(obj, "status")
    return {"phase": s(status.get("phase")), "conditions": conditions(status, options)}


class _NodeSpecInput(TypedDict, total=False):
    unschedulable: Any
    taints: Any
    podCIDR: Any
    providerID: Any


class _NodeStatusInput(TypedDict, total=False):
    capacity: Any
    allocatable: Any
    conditions: Any
    addresses: Any
    nodeInfo: Any


class NodeInput(TypedDict, total=False):
    """Everything :func:`node_fields` (and ``common_fields``) reads of a Node: its input schema
    (``ResourceSpec.input_schema``). Left out: ``status.images``, every image the node holds
    with its digests and size, often most of a Node; ``volumesAttached``; ``daemonEndpoints``.
    Reading a new field means declaring it here (``tests/registry/test_input_schemas.py``)."""

    kind: Any
    apiVersion: Any
    metadata: ObjectMeta
    spec: _NodeSpecInput
    status: _NodeStatusInput


def node_fields(obj: Obj, options: TransformOptions) -> Doc:
    """Node: readiness, roles, schedulability, capacity, versions and addresses."""
    spec, status = m(obj, "spec"), m(obj, "status")
    info = m(status, "nodeInfo")
    labels = str_map(m(obj, "metadata").get("labels"))
    addresses = [
        {"type": s(a.get("type")), "address": s(a.get("address"))}
        for a in items(status.get("addresses"))
    ]
    return {
        "ready": condition_status(status, "Ready") == "True",
        "roles": sorted(
            k[len(NODE_ROLE_PREFIX) :] for k in labels if k.startswith(NODE_ROLE_PREFIX)
        ),
        "unschedulable": spec.get("unschedulable") is True,
        "taints": [
            {"key": s(t.get("key")), "value": s(t.get("value")), "effect": s(t.get("effect"))}
            for t in items(spec.get("taints"))
        ],
        "podCIDR": s(spec.get("podCIDR")),
        "providerID": s(spec.get("providerID")),
        "capacity": scalar_map(status.get("capacity")),
        "allocatable": scalar_map(status.get("allocatable")),
        "kubeletVersion": s(info.get("kubeletVersion")),
        "containerRuntimeVersion": s(info.get("containerRuntimeVersion")),
        "osImage": s(info.get("osImage")),
        "kernelVersion": s(info.get("kernelVersion")),
        "os": s(info.get("operatingSystem")),
        "architecture": s(info.get("architecture")),
        "addresses": addresses,
        "internalIP": next((a["address"] for a in addresses if a["type"] == "InternalIP"), None),
        "conditions": conditions(status, options),
    }


def _service_port(port: Any) -> Doc:
    target = port.get("targetPort")
    return {
        "name": s(port.get("name")),
        "protocol": s(port.get("protocol")),
        "port": i(port.get("port")),
        # targetPort is an IntOrString: a number or a container port's name
        "targetPort": target if isinstance(target, str) else i(target),
        "nodePort": i(port.get("nodePort")),
    }


def service_fields(obj: Obj, _options: TransformOptions) -> Doc:
    """Service: type, cluster and external addresses, ports, selector."""
    spec = m(obj, "spec")
    return {
        "type": s(spec.get("type")),
        "clusterIP": s(spec.get("clusterIP")),
        "clusterIPs": strs(spec.get("clusterIPs")),
        "externalIPs": strs(spec.get("externalIPs")),
        "externalName": s(spec.get("externalName")),
        "loadBalancerIngress": load_balancer_ingress(m(obj, "status")),
        "ports": [_service_port(p) for p in items(spec.get("ports"))],
        "selector": map_selector(spec.get("selector")),
        "sessionAffinity": s(spec.get("sessionAffinity")),
    }


def _utf8_prefix(text: str, cap: int) -> tuple[str, bool]:
    """``text`` cut to at most ``cap`` UTF-8 bytes on a character boundary, and whether it was."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= cap:
        return text, False
    return raw[:cap].decode("utf-8", "ignore"), True


def configmap_fields(obj: Obj, options: TransformOptions) -> Doc:
    """ConfigMap: keys, values cut to ``options.configmap_value_cap`` bytes (cut keys listed in
    ``truncatedKeys``), binaryData keys only, total size."""
    root = m(obj)
    data, binary = m(root, "data"), m(root, "binaryData")
    cap = options.configmap_value_cap
    kept: dict[str, str] = {}
    truncated: list[str] = []
    total = 0
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        total += len(value.encode("utf-8", "surrogatepass"))
        if cap > 0:
            kept[key], cut = _utf8_prefix(value, cap)
        else:
            cut = bool(value)
        if cut:
            truncated.append(key)
    binary_keys = sorted(k for k in binary if isinstance(k, str))
    return {
        "keys": sorted(k for k in data if isinstance(k, str)),
        "data": kept,
        "truncatedKeys": sorted(truncated),
        "binaryDataKeys": binary_keys,
        "totalBytes": total,
        "immutable": b(root.get("immutable")),
    }


def event_fields(obj: Obj, options: TransformOptions) -> Doc:
    """core/v1 Event: type, reason, message, count, involved object, first/last time, source."""
    root = m(obj)
    involved, source, series = m(root, "involvedObject"), m(root, "source"), m(root, "series")
    # events.k8s.io-style writers leave count empty and count in series instead
    count = i(root.get("count")) or i(series.get("count")) or 1
    return {
        "type": s(root.get("type")),
        "reason": s(root.get("reason")),
        "message": cap_text(root.get("message"), options.message_cap),
        "count": count,
        "involvedObject": {
            "kind": s(involved.get("kind")),
            "namespace": s(involved.get("namespace")),
            "name": s(involved.get("name")),
            "uid": s(involved.get("uid")),
            "fieldPath": s(involved.get("fieldPath")),
        },
        "firstTimestamp": s(root.get("firstTimestamp")) or s(root.get("eventTime")),
        "lastTimestamp": s(root.get("lastTimestamp"))
        or s(series.get("lastObservedTime"))
        or s(root.get("eventTime")),
        "source": s(source.get("component")) or s(root.get("reportingComponent")),
        "sourceHost": s(source.get("host")),
    }


def serviceaccount_fields(obj: Obj, _options: TransformOptions) -> Doc:
    """ServiceAccount: referenced secrets and image pull secrets (names only), token automount."""
    root = m(obj)
    return {
        "secrets": [n for r in items(root.get("secrets")) if (n := s(r.get("name"))) is not None],
        "imagePullSecrets": [
            n for r in items(root.get("imagePullSecrets")) if (n := s(r.get("name"))) is not None
        ],
        "automountServiceAccountToken": b(root.get("automountServiceAccountToken")),
    }


def pvc_fields(obj: Obj, _options: TransformOptions) -> Doc:
    """PersistentVolumeClaim: phase, requested and bound capacity, class, modes, bound volume."""
    spec, status = m(obj, "spec"), m(obj, "status")
    return {
        "phase": s(status.get("phase")),
        "capacity": s(m(status, "capacity").get("storage")),
        "requested": s(m(spec, "resources", "requests").get("storage")),
        "storageClass": s(spec.get("storageClassName")),
        "accessModes": strs(spec.get("accessModes")),
        "volumeMode": s(spec.get("volumeMode")),
        "volumeName": s(spec.get("volumeName")),
    }


def _pv_source(spec: Any) -> str | None:
    """The volume plugin of a PV: the CSI driver name, else the in-tree source's key."""
    csi = m(spec, "csi")
    if csi:
        return s(csi.get("driver"))
    known = ("hostPath", "local", "nfs", "iscsi", "fc", "awsElasticBlockStore", "gcePersistentDisk")
    return next((key for key in known if key in m(spec)), None)


def pv_fields(obj: Obj, _options: TransformOptions) -> Doc:
    """PersistentVolume: phase, capacity, class, modes, reclaim policy, claim, volume source."""
    spec, status = m(obj, "spec"), m(obj, "status")
    claim = m(spec, "claimRef")
    return {
        "phase": s(status.get("phase")),
        "capacity": s(m(spec, "capacity").get("storage")),
        "storageClass": s(spec.get("storageClassName")),
        "accessModes": strs(spec.get("accessModes")),
        "reclaimPolicy": s(spec.get("persistentVolumeReclaimPolicy")),
        "volumeMode": s(spec.get("volumeMode")),
        "claim": {"namespace": s(claim.get("namespace")), "name": s(claim.get("name"))}
        if claim
        else None,
        "source": _pv_source(spec),
    }
