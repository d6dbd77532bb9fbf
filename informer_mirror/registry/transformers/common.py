"""The transformer contract and the total helpers every transformer is written with.

Place in the data flow: a transformer turns one raw API object (API JSON, camelCase, as ``kube/``
parsed it) into the kind-specific part of the stored document. ``ResourceSpec.to_document`` calls
it on the reflector thread of its resource, once per object as it enters the Store; the common
metadata part (:func:`common_fields`) is built here too.

Transformers are pure functions of ``(obj, options)``. They must not mutate ``obj`` and must not
return its mutable parts (copy dicts and lists) because the Store hands documents out read-only.
Every accessor below is total: a missing key, ``null`` or a value of an unexpected type gives
``None`` (or an empty container), never an exception, so a transformer written with them only
fails on a real bug, which ``to_document`` then catches, records and counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

import msgspec

from informer_mirror.registry.redaction import LAST_APPLIED, MAPPINGS, redact_annotations
from informer_mirror.registry.transformers.views import view

Obj = Mapping[str, Any]
"""A raw Kubernetes object (or any JSON object inside one)."""

Doc = dict[str, Any]
"""A document or part of one: JSON-serialisable, owned by the caller."""

EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class TransformOptions:
    """Knobs a transformer may read; one instance per registry, set from the configuration."""

    annotation_deny_list: frozenset[str] = frozenset({LAST_APPLIED})
    """Annotation keys never stored (document and ``raw``). The default drops
    ``kubectl.kubernetes.io/last-applied-configuration``: it repeats the whole manifest, and for
    a Secret applied with kubectl it embeds the Secret's data."""
    configmap_value_cap: int = 1024
    """Bytes (UTF-8) of each ConfigMap value kept in the document; longer values are cut at that
    size and their keys listed in ``truncatedKeys``. 0 keeps keys only."""
    message_cap: int = 1024
    """Characters kept of free-text fields that can grow without bound (Event messages,
    condition messages); longer text is cut and ends with an ellipsis."""


Transformer = Callable[[Obj, TransformOptions], Doc]
"""``(raw object, options) -> kind-specific fields`` of the document. Pure; may raise only on a
bug (``to_document`` turns that into ``transformError``)."""

COMMON_FIELDS: tuple[str, ...] = (
    "uid",
    "name",
    "namespace",
    "labels",
    "annotations",
    "ownerReferences",
    "creationTimestamp",
    "deletionTimestamp",
    "resourceVersion",
    "generation",
    "cluster",
    "kind",
    "apiVersion",
)
"""Fields every document has, in this order, before the kind-specific ones."""

MIRROR_FIELD = "_mirror"
"""The top-level document field the writer adds (``{cluster, syncedAt, format}``); backends scope
by its cluster. Never part of what ``ResourceSpec.to_document`` returns (it drops a
transformer's), so the writer appends it to the document's bytes without looking for one."""

RESERVED_FIELDS: frozenset[str] = frozenset({*COMMON_FIELDS, "transformError", "raw", MIRROR_FIELD})
"""Top-level document fields a transformer (or a custom resource's ``fields``) may not set."""


# --- total accessors ---------------------------------------------------------------------------


def m(value: Any, *keys: str) -> Mapping[str, Any]:
    """The mapping at ``value[k1][k2]...``, or an empty mapping when any step is not a mapping."""
    for key in keys:
        if not isinstance(value, MAPPINGS):
            return EMPTY
        value = value.get(key)
    return value if isinstance(value, MAPPINGS) else EMPTY


def s(value: Any) -> str | None:
    """``value`` when it is a string, else ``None``."""
    return value if isinstance(value, str) else None


def i(value: Any) -> int | None:
    """``value`` when it is an integer (``bool`` is not), else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def b(value: Any) -> bool | None:
    """``value`` when it is a boolean, else ``None``."""
    return value if isinstance(value, bool) else None


def items(value: Any) -> list[Mapping[str, Any]]:
    """The mapping elements of ``value`` when it is a list (other elements are skipped)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, MAPPINGS)]


def strs(value: Any) -> list[str]:
    """The string elements of ``value`` when it is a list."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def str_map(value: Any) -> dict[str, str]:
    """A copy of ``value``'s string-to-string entries when it is a mapping (labels, selectors)."""
    if not isinstance(value, MAPPINGS):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def scalar_map(value: Any) -> dict[str, str | int | float]:
    """A copy of ``value``'s entries with string keys and scalar values (resource quantities,
    which the API serialises as strings but hand-written objects sometimes give as numbers)."""
    if not isinstance(value, MAPPINGS):
        return {}
    return {
        k: v
        for k, v in value.items()
        if isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool)
    }


def cap_text(value: Any, cap: int) -> str | None:
    """``value`` cut to ``cap`` characters (ending with an ellipsis when cut), if it is a string."""
    text = s(value)
    if text is None or len(text) <= cap:
        return text
    return text[: max(cap - 1, 0)] + "…"


# --- shared shapes -----------------------------------------------------------------------------


class ConditionView(msgspec.Struct, gc=False):
    """One entry of ``status.conditions``, as far as documents keep it (``views``)."""

    type: str | None = None
    status: str | None = None
    lastTransitionTime: str | None = None
    reason: str | None = None
    message: str | None = None


def conditions(status: Any, options: TransformOptions) -> list[Doc]:
    """``status.conditions`` as ``[{type, status, lastTransitionTime[, reason][, message]}]``.

    A list rather than a ``{type: status}`` map: condition types may contain dots
    (readiness gates), which MongoDB cannot address in a field path.
    """
    found = status.get("conditions") if isinstance(status, MAPPINGS) else None
    if not isinstance(found, list):
        return []
    return condition_docs(
        [view(ConditionView, c) for c in found if isinstance(c, MAPPINGS)], options
    )


def condition_docs(found: list[ConditionView], options: TransformOptions) -> list[Doc]:
    """The documents of conditions already in view form (see :func:`conditions`)."""
    out: list[Doc] = []
    cap = options.message_cap
    for c in found:
        condition: Doc = {
            "type": c.type,
            "status": c.status,
            "lastTransitionTime": c.lastTransitionTime,
        }
        # most conditions of a healthy object have neither: leave them out rather than store nulls
        if c.reason is not None:
            condition["reason"] = c.reason
        message = c.message
        if message is not None:
            condition["message"] = message if len(message) <= cap else cap_text(message, cap)
        out.append(condition)
    return out


def condition_status(status: Any, type_: str) -> str | None:
    """The ``status`` (``"True"``/``"False"``/``"Unknown"``) of the condition of type ``type_``."""
    for c in items(m(status).get("conditions")):
        if c.get("type") == type_:
            return s(c.get("status"))
    return None


def label_selector(selector: Any) -> str | None:
    """A ``LabelSelector`` (``matchLabels`` + ``matchExpressions``) in kubectl's string syntax,
    e.g. ``app=web,tier in (a,b),!legacy``; ``""`` selects everything, ``None`` means absent."""
    if not isinstance(selector, MAPPINGS):
        return None
    parts = [f"{k}={v}" for k, v in sorted(str_map(selector.get("matchLabels")).items())]
    for expr in items(selector.get("matchExpressions")):
        key, op, values = s(expr.get("key")), s(expr.get("operator")), strs(expr.get("values"))
        if key is None:
            continue
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def map_selector(selector: Any) -> str | None:
    """A plain ``{key: value}`` selector (Services) as ``a=b,c=d``; ``None`` when absent."""
    if not isinstance(selector, MAPPINGS):
        return None
    return ",".join(f"{k}={v}" for k, v in sorted(str_map(selector).items()))


class ContainerInput(TypedDict, total=False):
    """What transformers read of a container (input schemas, ``ResourceSpec.input_schema``)."""

    name: Any
    image: Any


class PodTemplateSpecInput(TypedDict, total=False):
    """What transformers read of a pod template's spec."""

    containers: list[ContainerInput]
    initContainers: list[ContainerInput]
    nodeSelector: Any


class PodTemplateInput(TypedDict, total=False):
    """What transformers read of a pod template (``spec.template``)."""

    spec: PodTemplateSpecInput


def pod_template_images(template_spec: Any) -> list[str]:
    """The images of a pod spec's containers (init containers first), in order."""
    spec = m(template_spec)
    return [
        image
        for key in ("initContainers", "containers")
        for c in items(spec.get(key))
        if (image := s(c.get("image"))) is not None
    ]


def workload_images(obj: Obj) -> list[str]:
    """Images of a workload's pod template (``spec.template.spec``)."""
    return pod_template_images(m(obj, "spec", "template", "spec"))


def load_balancer_ingress(status: Any) -> list[str]:
    """IPs and hostnames of ``status.loadBalancer.ingress`` (Services, Ingresses)."""
    out: list[str] = []
    for entry in items(m(status, "loadBalancer").get("ingress")):
        value = s(entry.get("ip")) or s(entry.get("hostname"))
        if value is not None:
            out.append(value)
    return out


def object_ref(value: Any, *keys: str) -> Doc | None:
    """Selected string fields of an object reference, or ``None`` when there is no reference."""
    if not isinstance(value, MAPPINGS):
        return None
    return {k: s(value.get(k)) for k in keys}


# --- the common part of every document ----------------------------------------------------------


def owner_references(value: Any) -> list[Doc]:
    """``ownerReferences`` reduced to what relations need: kind, name, uid, controller."""
    return [
        {
            "kind": s(ref.get("kind")),
            "name": s(ref.get("name")),
            "uid": s(ref.get("uid")),
            "controller": ref.get("controller") is True,
        }
        for ref in items(value)
    ]


def common_fields(
    obj: Obj,
    *,
    kind: str,
    api_version: str,
    cluster: str,
    options: TransformOptions,
    redact_values: bool,
) -> Doc:
    """The metadata part of a document, in :data:`COMMON_FIELDS` order.

    ``kind`` and ``apiVersion`` come from the spec, never from ``obj``: list items lack them.
    ``namespace`` is ``None`` for cluster-scoped objects. Deny-listed annotations are dropped;
    with ``redact_values`` the remaining annotation values are replaced by their sizes.
    """
    meta = m(obj, "metadata")
    return {
        "uid": s(meta.get("uid")),
        "name": s(meta.get("name")),
        "namespace": s(meta.get("namespace")) or None,
        "labels": str_map(meta.get("labels")),
        "annotations": redact_annotations(
            meta.get("annotations"), deny=options.annotation_deny_list, redact=redact_values
        ),
        "ownerReferences": owner_references(meta.get("ownerReferences")),
        "creationTimestamp": s(meta.get("creationTimestamp")),
        "deletionTimestamp": s(meta.get("deletionTimestamp")),
        "resourceVersion": s(meta.get("resourceVersion")),
        "generation": i(meta.get("generation")),
        "cluster": cluster,
        "kind": kind,
        "apiVersion": api_version,
    }


def object_key(obj: Obj) -> str:
    """``namespace/name`` (or ``name``) of a raw object, for log messages; never raises."""
    meta = m(obj, "metadata")
    name = s(meta.get("name")) or "<no name>"
    namespace = s(meta.get("namespace"))
    return f"{namespace}/{name}" if namespace else name
