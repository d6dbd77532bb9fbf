"""The Pod transformer: what an operator asks of pods (where, which phase, ready, restarting).

Place in the data flow: called through ``ResourceSpec.to_document`` on the pods reflector thread,
once per Pod entering the Store. Pure; owns nothing. Pods are the most numerous objects of a
cluster, so the document is deliberately lean: per container only name, image, readiness,
restarts and the current state with its reason. For the same reason the transformer reads typed
views (``views``) of ``spec`` and ``status``, which list pages and watch events are decoded into:
attribute reads with the types already checked (12 -> 3 us per Pod).
"""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec
from msgspec import UNSET, UnsetType

from informer_mirror.apitypes import ObjectMeta
from informer_mirror.registry.redaction import MAPPINGS
from informer_mirror.registry.transformers.common import (
    ConditionView,
    Doc,
    Obj,
    TransformOptions,
    condition_docs,
)
from informer_mirror.registry.transformers.views import view

# The views below hold strings and lists of views only, never a cycle: gc=False keeps the
# collector from tracking the ~10 of them each Pod decodes into.


class ContainerView(msgspec.Struct, gc=False):
    """A container of ``spec.containers`` / ``spec.initContainers``."""

    name: str | None = None
    image: str | None = None


class StateDetailView(msgspec.Struct, gc=False):
    """One of a container state's ``running`` / ``waiting`` / ``terminated``."""

    reason: str | None = None


class ContainerStateView(msgspec.Struct, gc=False):
    """A container status's ``state``: which key is present says the state, even when null."""

    running: StateDetailView | UnsetType | None = UNSET
    waiting: StateDetailView | UnsetType | None = UNSET
    terminated: StateDetailView | UnsetType | None = UNSET


class ContainerStatusView(msgspec.Struct, gc=False):
    """An entry of ``status.containerStatuses`` / ``status.initContainerStatuses``."""

    name: str | None = None
    ready: bool | None = None
    restartCount: int | None = None
    state: ContainerStateView | None = None


class PodIPView(msgspec.Struct, gc=False):
    """An entry of ``status.podIPs``."""

    ip: str | None = None


class PodSpecView(msgspec.Struct, gc=False):
    """What :func:`pod_fields` reads of a Pod's ``spec``."""

    containers: list[ContainerView] | None = None
    initContainers: list[ContainerView] | None = None
    nodeName: str | None = None
    serviceAccountName: str | None = None


class PodStatusView(msgspec.Struct, gc=False):
    """What :func:`pod_fields` reads of a Pod's ``status``."""

    phase: str | None = None
    reason: str | None = None
    podIP: str | None = None
    podIPs: list[PodIPView] | None = None
    hostIP: str | None = None
    qosClass: str | None = None
    startTime: str | None = None
    conditions: list[ConditionView] | None = None
    containerStatuses: list[ContainerStatusView] | None = None
    initContainerStatuses: list[ContainerStatusView] | None = None


class PodInput(TypedDict, total=False):
    """Everything :func:`pod_fields` and ``common_fields`` read of a Pod, and nothing else: Pods
    are decoded into it (``ResourceSpec.input_schema``), so the rest of a Pod (volumes, env,
    probes, resources, tolerations...: 60% of it after managedFields) is skipped, never built.
    ``spec`` and ``status`` arrive as typed views (``views``); a page where a value has another
    type decodes the general way and its Pods are viewed leniently, to the same documents.
    Reading a new field here means declaring it here; ``tests/registry/test_input_schemas.py``
    holds the documents equal to those made from whole objects."""

    kind: Any
    apiVersion: Any
    metadata: ObjectMeta
    spec: PodSpecView
    status: PodStatusView


def _containers(
    spec_list: list[ContainerView] | None, status_list: list[ContainerStatusView] | None
) -> list[Doc]:
    """Spec containers joined with their statuses by name (statuses are absent while Pending):
    ``{name, image, ready, restartCount, state, reason}`` each, where ``state`` is which of
    ``running``/``waiting``/``terminated`` is set and ``reason`` that state's reason."""
    if not spec_list:
        return []
    statuses = {st.name: st for st in status_list} if status_list else {}
    out: list[Doc] = []
    for c in spec_list:
        name = c.name
        st = statuses.get(name) if name is not None else None
        state = reason = None
        ready, restarts = False, 0
        if st is not None:
            ready = st.ready is True
            if st.restartCount is not None:
                restarts = st.restartCount
            current = st.state
            if current is not None:
                for key, detail in (
                    ("running", current.running),
                    ("waiting", current.waiting),
                    ("terminated", current.terminated),
                ):
                    if detail is not UNSET:
                        state = key
                        reason = detail.reason if detail is not None else None
                        break
        out.append(
            {
                "name": name,
                "image": c.image,
                "ready": ready,
                "restartCount": restarts,
                "state": state,
                "reason": reason,
            }
        )
    return out


def pod_fields(obj: Obj, options: TransformOptions) -> Doc:
    """Pod: phase, node, IPs, QoS, readiness and restarts, containers, conditions."""
    raw_spec, raw_status = (
        (obj.get("spec"), obj.get("status")) if isinstance(obj, MAPPINGS) else (None, None)
    )
    spec, status = view(PodSpecView, raw_spec), view(PodStatusView, raw_status)
    containers = _containers(spec.containers, status.containerStatuses)
    init = _containers(spec.initContainers, status.initContainerStatuses)
    ready_count = restarts = 0
    for c in containers:
        ready_count += c["ready"]
        restarts += c["restartCount"]
    for c in init:
        restarts += c["restartCount"]
    ips = status.podIPs
    return {
        "phase": status.phase,
        "reason": status.reason,
        "nodeName": spec.nodeName,
        "podIP": status.podIP,
        "podIPs": [p.ip for p in ips if p.ip is not None] if ips else [],
        "hostIP": status.hostIP,
        "qosClass": status.qosClass,
        "startTime": status.startTime,
        "serviceAccountName": spec.serviceAccountName,
        "ready": bool(containers) and ready_count == len(containers),
        "readyContainers": ready_count,
        "totalContainers": len(containers),
        "restartCount": restarts,
        "containers": containers,
        "initContainers": init,
        "conditions": condition_docs(status.conditions or [], options),
    }
