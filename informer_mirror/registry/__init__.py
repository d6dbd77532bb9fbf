"""The resource registry: which Kubernetes resource types are mirrored, and how their objects
become documents.

Place in the data flow: right after the settings. :func:`build_registry` runs once on the main
thread at start-up and returns an immutable :class:`Registry` of :class:`ResourceSpec`; everything
downstream (informers, writer, backends, API, ``informer-mirror resources``) is generated from it.

Modules: ``spec`` (ResourceSpec, per-spec validation, ``to_document``), ``builtin`` (one entry per
built-in kind), ``transformers/`` (kind-specific fields), ``redaction`` (Secrets and annotation
deny-list), ``paths`` (the custom-resource field path syntax), ``custom`` (specs from
``resources.custom``), ``selection`` (include/exclude, overrides, namespaces), ``registry``
(the Registry and cross-spec validation), ``failures`` (transformer failure counts).
"""

from __future__ import annotations

from informer_mirror.registry.builtin import builtin_specs
from informer_mirror.registry.custom import custom_specs
from informer_mirror.registry.redaction import LAST_APPLIED
from informer_mirror.registry.registry import Registry, validate_specs
from informer_mirror.registry.selection import WatchScope, select, watch_scope
from informer_mirror.registry.spec import ResourceSpec
from informer_mirror.registry.transformers.common import TransformOptions
from informer_mirror.settings import Settings

__all__ = ["Registry", "ResourceSpec", "TransformOptions", "WatchScope", "build_registry"]


def build_registry(settings: Settings) -> Registry:
    """The registry the configuration asks for: built-in and custom specs, validated together
    (a bad or duplicate custom entry is an error even when it is not selected), then selected
    by ``resources.include``/``exclude`` with per-resource options and watch scopes applied.

    Raises ConfigError naming the offending field.
    """
    resources = settings.resources
    # last-applied can embed a Secret's data: stripped even from settings built in code
    deny = frozenset(resources.strip_annotations) | {LAST_APPLIED}
    options = TransformOptions(annotation_deny_list=deny)
    candidates = builtin_specs(options) + custom_specs(resources.custom, options)
    validate_specs(candidates)
    selected = select(candidates, resources)
    scopes = {spec.name: watch_scope(spec, resources) for spec in selected}
    return Registry(selected, cluster=settings.cluster.name, scopes=scopes)
