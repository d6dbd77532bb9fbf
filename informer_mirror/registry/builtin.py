"""The built-in resource specs: one entry per kind of ``kinds.BUILTIN_KINDS``.

Place in the data flow: ``build_registry`` (main thread, start-up) calls :func:`builtin_specs`;
the entries are immutable module data. Identity (group, version, plural, kind, scope) is never
spelled here: each entry names its kind by plural and takes the rest from ``kinds.py``, the table
the simulated cluster serves too. An entry adds what only the mirror cares about: the icon, the
transformer, the extra indexes, whether values are confidential.

Adding a kind: a row in ``kinds.BUILTIN_KINDS`` (so the sim serves it), a transformer function in
``transformers/``, and one entry below. Nothing else: the informer, writer, backends and API all
work from the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from informer_mirror.kinds import BUILTIN_KINDS
from informer_mirror.registry.redaction import secret_fields
from informer_mirror.registry.spec import ResourceSpec
from informer_mirror.registry.transformers import apps, autoscaling, batch, core, networking, pods
from informer_mirror.registry.transformers.common import Transformer, TransformOptions


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltinEntry:
    """What the mirror adds to a row of ``kinds.BUILTIN_KINDS``."""

    plural: str
    """The kind's plural resource name, the key into ``kinds.BUILTIN_BY_PLURAL``."""
    icon: str
    """Display symbol."""
    transformer: Transformer
    """Kind-specific document fields."""
    indexes: tuple[tuple[str, ...], ...] = ()
    """Compound indexes for the queries this kind is asked most."""
    redact_values: bool = False
    """Confidential payload (Secrets)."""
    input_schema: type | None = None
    """What ``transformer`` reads, when declared (``ResourceSpec.input_schema``)."""


BUILTIN_ENTRIES: tuple[BuiltinEntry, ...] = (
    BuiltinEntry(plural="namespaces", icon="🗂️", transformer=core.namespace_fields),
    BuiltinEntry(
        plural="nodes",
        icon="🖥️",
        transformer=core.node_fields,
        indexes=(("ready",),),
        input_schema=core.NodeInput,
    ),
    BuiltinEntry(
        plural="pods",
        icon="🐳",
        transformer=pods.pod_fields,
        indexes=(("namespace", "phase"), ("nodeName", "phase")),
        input_schema=pods.PodInput,
    ),
    BuiltinEntry(
        plural="services", icon="🔌", transformer=core.service_fields, indexes=(("type",),)
    ),
    BuiltinEntry(plural="configmaps", icon="⚙️", transformer=core.configmap_fields),
    BuiltinEntry(
        plural="secrets",
        icon="🔒",
        transformer=secret_fields,
        indexes=(("namespace", "type"),),
        redact_values=True,
    ),
    BuiltinEntry(
        plural="events",
        icon="📣",
        transformer=core.event_fields,
        indexes=(("namespace", "type"), ("involvedObject.uid",)),
    ),
    BuiltinEntry(
        plural="persistentvolumeclaims",
        icon="💾",
        transformer=core.pvc_fields,
        indexes=(("namespace", "phase"),),
    ),
    BuiltinEntry(plural="persistentvolumes", icon="🗄️", transformer=core.pv_fields),
    BuiltinEntry(plural="serviceaccounts", icon="🪪", transformer=core.serviceaccount_fields),
    # the four apps/v1 workloads share one input schema
    *(
        BuiltinEntry(plural=plural, icon=icon, transformer=fields, input_schema=apps.WorkloadInput)
        for plural, icon, fields in (
            ("deployments", "🚀", apps.deployment_fields),
            ("statefulsets", "🧱", apps.statefulset_fields),
            ("daemonsets", "🛰️", apps.daemonset_fields),
            ("replicasets", "🧬", apps.replicaset_fields),
        )
    ),
    BuiltinEntry(
        plural="jobs",
        icon="🛠️",
        transformer=batch.job_fields,
        indexes=(("namespace", "outcome"),),
        input_schema=batch.JobInput,
    ),
    BuiltinEntry(
        plural="cronjobs",
        icon="⏰",
        transformer=batch.cronjob_fields,
        input_schema=batch.CronJobInput,
    ),
    BuiltinEntry(plural="ingresses", icon="🌐", transformer=networking.ingress_fields),
    BuiltinEntry(plural="networkpolicies", icon="🛡️", transformer=networking.networkpolicy_fields),
    BuiltinEntry(plural="horizontalpodautoscalers", icon="📈", transformer=autoscaling.hpa_fields),
    BuiltinEntry(
        plural="endpointslices",
        icon="🎯",
        transformer=networking.endpointslice_fields,
        indexes=(("namespace", "serviceName"),),
    ),
)
"""One entry per built-in kind (any order: specs come out in ``BUILTIN_KINDS`` order)."""


def builtin_specs(options: TransformOptions) -> tuple[ResourceSpec, ...]:
    """Every built-in spec, in ``kinds.BUILTIN_KINDS`` order (namespaces and owners first)."""
    entries = {e.plural: e for e in BUILTIN_ENTRIES}
    specs: list[ResourceSpec] = []
    for kind in BUILTIN_KINDS:
        entry = entries.pop(kind.plural, None)
        if entry is None:
            raise LookupError(f"kinds.BUILTIN_KINDS has {kind.plural!r} but builtin.py no entry")
        specs.append(
            ResourceSpec(
                name=kind.plural,
                group=kind.group,
                version=kind.version,
                kind=kind.kind,
                namespaced=kind.namespaced,
                icon=entry.icon,
                transformer=entry.transformer,
                indexes=entry.indexes,
                redact_values=entry.redact_values,
                input_schema=entry.input_schema,
                options=options,
            )
        )
    if entries:
        raise LookupError(f"builtin.py has entries for unknown kinds: {sorted(entries)}")
    return tuple(specs)
