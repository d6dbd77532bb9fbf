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
from informer_mirror.registry.redaction import MAPPINGS
from informer_mirror.registry.transformers.common import (
    ContainerInput,
    Doc,
    Obj,
    TransformOptions,
    conditions,
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


_STATES = ("running", "waiting", "terminated")
"""The keys of a container status's ``state``, one of which is set."""


def _containers(spec_list: Any, status_list: Any) -> list[Doc]:
    """Spec containers joined with their statuses by name (statuses are absent while Pending):
    ``{name, image, ready, restartCount, state, reason}`` each, where ``state`` is which of
    ``running``/``waiting``/``terminated`` is set and ``reason`` that state's reason.

    The accessors of ``common`` are inlined: this runs for every container of every Pod, and
    their calls were a quarter of a Pod's transform."""
    if not isinstance(spec_list, list):
        return []
    statuses: dict[str | None, Mapping[str, Any]] = {}
    if isinstance(status_list, list):
        for st in status_list:
            if isinstance(st, MAPPINGS):
                name = st.get("name")
                statuses[name if isinstance(name, str) else None] = st
    out: list[Doc] = []
    for c in spec_list:
        if not isinstance(c, MAPPINGS):
            continue
        name, image = c.get("name"), c.get("image")
        if not isinstance(name, str):
            name = None
        st = statuses.get(name) if name is not None else None
        state = reason = None
        ready, restarts = False, 0
        if st is not None:
            ready = st.get("ready") is True
            count = st.get("restartCount")
            if isinstance(count, int) and not isinstance(count, bool):
                restarts = count
            current = st.get("state")
            if isinstance(current, MAPPINGS):
                for key in _STATES:
                    if key in current:
                        state = key
                        reason = s(m(current, key).get("reason"))
                        break
        out.append(
            {
                "name": name,
                "image": image if isinstance(image, str) else None,
                "ready": ready,
                "restartCount": restarts,
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
    ready_count = restarts = 0
    for c in containers:
        ready_count += c["ready"]
        restarts += c["restartCount"]
    for c in init:
        restarts += c["restartCount"]
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
        "restartCount": restarts,
        "containers": containers,
        "initContainers": init,
        "conditions": conditions(status, options),
    }
