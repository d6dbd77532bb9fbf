"""Transformers of the apps/v1 workloads: Deployment, StatefulSet, DaemonSet, ReplicaSet.

Place in the data flow: called through ``ResourceSpec.to_document`` on each resource's reflector
thread, once per object entering the Store. Pure functions; own nothing.

All four use the same replica field names (``replicas`` desired, ``readyReplicas``,
``availableReplicas``, ``updatedReplicas``) so that one query or one stats breakdown ("fully
available or not") works across workload kinds; the DaemonSet's ``*NumberScheduled`` counters are
mapped onto them.
"""

from __future__ import annotations

from typing import Any, TypedDict

from informer_mirror.apitypes import ObjectMeta
from informer_mirror.registry.transformers.common import (
    Doc,
    Obj,
    PodTemplateInput,
    TransformOptions,
    conditions,
    i,
    label_selector,
    m,
    s,
    str_map,
    workload_images,
)


class _WorkloadSpecInput(TypedDict, total=False):
    selector: Any
    replicas: Any
    strategy: Any
    updateStrategy: Any
    paused: Any
    serviceName: Any
    podManagementPolicy: Any
    template: PodTemplateInput


class WorkloadInput(TypedDict, total=False):
    """Everything the four transformers below (and ``common_fields``) read: the input schema
    of the apps/v1 kinds (``ResourceSpec.input_schema``). A workload's pod template is most of
    it, and all that is read of it is the images and a DaemonSet's node selector. Reading a new
    field means declaring it here (``tests/registry/test_input_schemas.py``)."""

    kind: Any
    apiVersion: Any
    metadata: ObjectMeta
    spec: _WorkloadSpecInput
    status: Any


def _common(obj: Obj, options: TransformOptions) -> Doc:
    spec, status = m(obj, "spec"), m(obj, "status")
    return {
        "selector": label_selector(spec.get("selector")),
        "images": workload_images(obj),
        "observedGeneration": i(status.get("observedGeneration")),
        "conditions": conditions(status, options),
    }


def deployment_fields(obj: Obj, options: TransformOptions) -> Doc:
    """Deployment: desired/ready/available/updated replicas, strategy, pause, images, selector."""
    spec, status = m(obj, "spec"), m(obj, "status")
    replicas = i(spec.get("replicas"))
    return {
        # an omitted spec.replicas defaults to 1 on the server
        "replicas": 1 if replicas is None else replicas,
        "readyReplicas": i(status.get("readyReplicas")) or 0,
        "availableReplicas": i(status.get("availableReplicas")) or 0,
        "updatedReplicas": i(status.get("updatedReplicas")) or 0,
        "unavailableReplicas": i(status.get("unavailableReplicas")) or 0,
        "strategy": s(m(spec, "strategy").get("type")),
        "paused": spec.get("paused") is True,
        **_common(obj, options),
    }


def statefulset_fields(obj: Obj, options: TransformOptions) -> Doc:
    """StatefulSet: replicas (desired/ready/available/current/updated), strategy, service."""
    spec, status = m(obj, "spec"), m(obj, "status")
    replicas = i(spec.get("replicas"))
    return {
        "replicas": 1 if replicas is None else replicas,
        "readyReplicas": i(status.get("readyReplicas")) or 0,
        "availableReplicas": i(status.get("availableReplicas")) or 0,
        "currentReplicas": i(status.get("currentReplicas")) or 0,
        "updatedReplicas": i(status.get("updatedReplicas")) or 0,
        "strategy": s(m(spec, "updateStrategy").get("type")),
        "serviceName": s(spec.get("serviceName")),
        "podManagementPolicy": s(spec.get("podManagementPolicy")),
        **_common(obj, options),
    }


def daemonset_fields(obj: Obj, options: TransformOptions) -> Doc:
    """DaemonSet: desired/current/ready/available/updated/misscheduled pods, strategy."""
    spec, status = m(obj, "spec"), m(obj, "status")
    return {
        "replicas": i(status.get("desiredNumberScheduled")) or 0,
        "currentReplicas": i(status.get("currentNumberScheduled")) or 0,
        "readyReplicas": i(status.get("numberReady")) or 0,
        "availableReplicas": i(status.get("numberAvailable")) or 0,
        "updatedReplicas": i(status.get("updatedNumberScheduled")) or 0,
        "misscheduled": i(status.get("numberMisscheduled")) or 0,
        "strategy": s(m(spec, "updateStrategy").get("type")),
        "nodeSelector": str_map(m(spec, "template", "spec").get("nodeSelector")),
        **_common(obj, options),
    }


def replicaset_fields(obj: Obj, options: TransformOptions) -> Doc:
    """ReplicaSet: desired/ready/available/fully-labeled replicas, images, selector."""
    spec, status = m(obj, "spec"), m(obj, "status")
    replicas = i(spec.get("replicas"))
    return {
        "replicas": 1 if replicas is None else replicas,
        "readyReplicas": i(status.get("readyReplicas")) or 0,
        "availableReplicas": i(status.get("availableReplicas")) or 0,
        "fullyLabeledReplicas": i(status.get("fullyLabeledReplicas")) or 0,
        **_common(obj, options),
    }
