"""The Pod transformer: what an operator asks of pods (where, which phase, ready, restarting).

Place in the data flow: called through ``ResourceSpec.to_document`` on the pods reflector thread,
once per Pod entering the Store. Pure; owns nothing. Pods are the most numerous objects of a
cluster, so the document is deliberately lean: per container only name, image, readiness,
restarts and the current state with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from informer_mirror.apitypes import ObjectMeta
from informer_mirror.registry.transformers.common import (
    ContainerInput,
    Doc,
    Obj,
    TransformOptions,
    conditions,
    i,
    items,
    m,
    s,
)


class _PodSpecInput(TypedDict, total=False):
    containers: list[ContainerInput]
    initContainers: list[ContainerInput]
    nodeName: Any
    serviceAccountName: Any


class _ContainerStatusInput(TypedDict, total=False):
    name: Any
    ready: Any
    restartCount: Any
    state: Any


class _PodStatusInput(TypedDict, total=False):
    phase: Any
    reason: Any
    podIP: Any
    podIPs: Any
    hostIP: Any
    qosClass: Any
    startTime: Any
    conditions: Any
    containerStatuses: list[_ContainerStatusInput]
    initContainerStatuses: list[_ContainerStatusInput]


class PodInput(TypedDict, total=False):
    """Everything :func:`pod_fields` and ``common_fields`` read of a Pod, and nothing else: Pods
    are decoded into it (``ResourceSpec.input_schema``), so the rest of a Pod (volumes, env,
    probes, resources, tolerations...: 60% of it after managedFields) is skipped, never built.
    Reading a new field here means declaring it here; ``tests/registry/test_input_schemas.py``
    holds the documents equal to those made from whole objects."""

    kind: Any
    apiVersion: Any
    metadata: ObjectMeta
    spec: _PodSpecInput
    status: _PodStatusInput


def _state(status: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(running|waiting|terminated, reason)`` of a container status's current state."""
    state = m(status, "state")
    for name in ("running", "waiting", "terminated"):
        if name in state:
            return name, s(m(state, name).get("reason"))
    return None, None


def _containers(spec_list: Any, status_list: Any) -> list[Doc]:
    """Spec containers joined with their statuses by name (statuses are absent while Pending)."""
    statuses = {s(st.get("name")): st for st in items(status_list)}
    out: list[Doc] = []
    for c in items(spec_list):
        name = s(c.get("name"))
        st = statuses.get(name) if name is not None else None
        state, reason = _state(st) if st is not None else (None, None)
        out.append(
            {
                "name": name,
                "image": s(c.get("image")),
                "ready": st.get("ready") is True if st is not None else False,
                "restartCount": (i(st.get("restartCount")) or 0) if st is not None else 0,
                "state": state,
                "reason": reason,
            }
        )
    return out


def pod_fields(obj: Obj, options: TransformOptions) -> Doc:
    """Pod: phase, node, IPs, QoS, readiness and restarts, containers, conditions."""
    spec, status = m(obj, "spec"), m(obj, "status")
    containers = _containers(spec.get("containers"), status.get("containerStatuses"))
    init = _containers(spec.get("initContainers"), status.get("initContainerStatuses"))
    ready_count = sum(1 for c in containers if c["ready"])
    return {
        "phase": s(status.get("phase")),
        "reason": s(status.get("reason")),
        "nodeName": s(spec.get("nodeName")),
        "podIP": s(status.get("podIP")),
        "podIPs": [ip for p in items(status.get("podIPs")) if (ip := s(p.get("ip"))) is not None],
        "hostIP": s(status.get("hostIP")),
        "qosClass": s(status.get("qosClass")),
        "startTime": s(status.get("startTime")),
        "serviceAccountName": s(spec.get("serviceAccountName")),
        "ready": bool(containers) and ready_count == len(containers),
        "readyContainers": ready_count,
        "totalContainers": len(containers),
        "restartCount": sum(c["restartCount"] for c in containers + init),
        "containers": containers,
        "initContainers": init,
        "conditions": conditions(status, options),
    }
