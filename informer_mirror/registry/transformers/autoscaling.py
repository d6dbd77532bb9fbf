"""Transformer of autoscaling/v2 HorizontalPodAutoscaler.

Place in the data flow: called through ``ResourceSpec.to_document`` on the HPA reflector thread,
once per object entering the Store. Pure; owns nothing.
"""

from __future__ import annotations

from typing import Any

from informer_mirror.registry.transformers.common import (
    Doc,
    Obj,
    TransformOptions,
    conditions,
    i,
    items,
    m,
    object_ref,
    s,
)

_SOURCE_KEYS = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}


def _value(target: Any) -> str | int | None:
    """A MetricTarget/MetricValueStatus as one value: utilization %, or an (average) quantity."""
    target = m(target)
    utilization = i(target.get("averageUtilization"))
    if utilization is not None:
        return utilization
    return s(target.get("averageValue")) or s(target.get("value"))


def _metric_name(source: Any) -> str | None:
    return s(source.get("name")) or s(m(source, "metric").get("name"))


def _metrics(spec: Any, status: Any) -> list[Doc]:
    """Each target metric with its current value, matched by (type, name)."""
    current: dict[tuple[str | None, str | None], Any] = {}
    for metric in items(m(status).get("currentMetrics")):
        type_ = s(metric.get("type"))
        source = m(metric, _SOURCE_KEYS.get(type_ or "", ""))
        current[(type_, _metric_name(source))] = _value(source.get("current"))
    out: list[Doc] = []
    for metric in items(m(spec).get("metrics")):
        type_ = s(metric.get("type"))
        source = m(metric, _SOURCE_KEYS.get(type_ or "", ""))
        name = _metric_name(source)
        target = m(source, "target")
        out.append(
            {
                "type": type_,
                "name": name,
                "targetType": s(target.get("type")),
                "target": _value(target),
                "current": current.get((type_, name)),
            }
        )
    return out


def hpa_fields(obj: Obj, options: TransformOptions) -> Doc:
    """HPA: scale target, min/max, current/desired replicas, metric targets vs current values."""
    spec, status = m(obj, "spec"), m(obj, "status")
    min_replicas = i(spec.get("minReplicas"))
    return {
        "scaleTargetRef": object_ref(spec.get("scaleTargetRef"), "apiVersion", "kind", "name"),
        "minReplicas": 1 if min_replicas is None else min_replicas,
        "maxReplicas": i(spec.get("maxReplicas")),
        "currentReplicas": i(status.get("currentReplicas")),
        "desiredReplicas": i(status.get("desiredReplicas")),
        "lastScaleTime": s(status.get("lastScaleTime")),
        "metrics": _metrics(spec, status),
        "conditions": conditions(status, options),
    }
