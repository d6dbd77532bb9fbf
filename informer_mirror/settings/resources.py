"""The ``resources:`` section: which resource types are mirrored, and per-resource options.

Place in the data flow: part of the :class:`~informer_mirror.settings.Settings` built at start-up;
the registry reads it (main thread) to build one ResourceSpec per selected resource. Owns only the
*requested* selection: names are checked for syntax here, and checked against the kinds that
actually exist by the registry, through :meth:`ResourcesSettings.referenced_names`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

ALL = "all"
"""The ``include`` entry that selects every built-in kind and every custom resource."""

ALWAYS_STRIPPED_ANNOTATIONS: tuple[str, ...] = ("kubectl.kubernetes.io/last-applied-configuration",)
"""Stripped from every document whatever the file says: it can embed a Secret's data."""


def _empty_fields() -> Mapping[str, str]:
    return MappingProxyType({})


def _empty_overrides() -> Mapping[str, ResourceOverrides]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceOverrides:
    """Options for one resource type (``resources.overrides.<name>``); None means "inherit"."""

    resync_period: float | None = None
    """Seconds between resyncs of this resource (cache -> backend repair, no API call); 0 turns
    resync off; None uses ``resources.resync_period``."""
    label_selector: str | None = None
    """Kubernetes label selector: only matching objects are listed, watched and mirrored."""
    field_selector: str | None = None
    """Kubernetes field selector (``metadata.name``, ``metadata.namespace``, and whatever the
    resource supports on the real API server)."""
    keep_raw: bool = False
    """Also store the whole object (minus ``metadata.managedFields`` and redacted data) next to
    the extracted fields. Costs space; off by default."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomResourceSettings:
    """A custom resource (CRD) to mirror with no code: one ``resources.custom`` entry."""

    name: str
    """Plural resource name as served by the API (``certificates``); also the REST path."""
    group: str
    """API group, a DNS subdomain with a dot (``cert-manager.io``)."""
    version: str
    """API version (``v1``, ``v1beta1``, ``v2alpha3``)."""
    kind: str
    """Object kind, CamelCase (``Certificate``)."""
    namespaced: bool
    """True when the objects live in namespaces. Required: guessing wrong breaks the URLs."""
    icon: str | None = None
    """Short display string (an emoji) shown by ``/api/v1/resources``."""
    fields: Mapping[str, str] = field(default_factory=_empty_fields)
    """Extra document fields: name -> path into the object (the registry's path syntax, e.g.
    ``spec.secretName`` or ``status.conditions[?type=='Ready'].status``)."""
    resync_period: float | None = None
    """As :attr:`ResourceOverrides.resync_period`."""
    label_selector: str | None = None
    """As :attr:`ResourceOverrides.label_selector`."""
    field_selector: str | None = None
    """As :attr:`ResourceOverrides.field_selector`."""
    keep_raw: bool = False
    """As :attr:`ResourceOverrides.keep_raw`."""

    @property
    def api_version(self) -> str:
        """``group/version``, as in the objects' ``apiVersion``."""
        return f"{self.group}/{self.version}"

    @property
    def overrides(self) -> ResourceOverrides:
        """This entry's per-resource options, in the shape built-in kinds get them."""
        return ResourceOverrides(
            resync_period=self.resync_period,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            keep_raw=self.keep_raw,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourcesSettings:
    """What to mirror (``resources:``). Names are plural resource names (``pods``)."""

    include: tuple[str, ...] = (ALL,)
    """Resource names to mirror, or ``("all",)`` for every built-in kind and custom resource."""
    exclude: tuple[str, ...] = ()
    """Resource names never mirrored, applied after ``include``."""
    namespaces: tuple[str, ...] = ()
    """Mirror only these namespaces; empty means every namespace. Cluster-scoped kinds (nodes,
    namespaces, persistentvolumes) are unaffected."""
    exclude_namespaces: tuple[str, ...] = ()
    """Namespaces never mirrored (only when ``namespaces`` is empty)."""
    resync_period: float = 600.0
    """Seconds between resyncs: every cached key is re-queued so the backend is repaired from the
    cache, with no API request. 0 turns resync off; otherwise at least 1."""
    strip_annotations: tuple[str, ...] = ALWAYS_STRIPPED_ANNOTATIONS
    """Annotation keys removed from every document before it is cached or written. Always starts
    with :data:`ALWAYS_STRIPPED_ANNOTATIONS`; the file's list is added to it."""
    custom: tuple[CustomResourceSettings, ...] = ()
    """Custom resources to mirror, from configuration alone."""
    overrides: Mapping[str, ResourceOverrides] = field(default_factory=_empty_overrides)
    """Per-resource options for built-in kinds, by resource name (custom resources carry theirs
    on their ``custom`` entry). Read-only."""

    def selects(self, name: str) -> bool:
        """True when resource ``name`` is selected by ``include`` and not ``exclude``d."""
        return (ALL in self.include or name in self.include) and name not in self.exclude

    def overrides_for(self, name: str) -> ResourceOverrides:
        """The options for resource ``name`` (empty overrides when none are configured)."""
        for entry in self.custom:
            if entry.name == name:
                return entry.overrides
        return self.overrides.get(name, ResourceOverrides())

    def resync_period_for(self, name: str) -> float:
        """The resync period in force for resource ``name``, seconds (0 = off)."""
        own = self.overrides_for(name).resync_period
        return self.resync_period if own is None else own

    def referenced_names(self) -> tuple[tuple[str, str], ...]:
        """Every name ``include``, ``exclude`` and ``overrides`` refer to, as (field path, name).

        The hook through which the registry rejects a name that is neither a built-in kind nor a
        ``custom`` entry: ``ConfigError(f"{path}: unknown resource {name!r} ...")``."""
        found = [(f"resources.include[{i}]", n) for i, n in enumerate(self.include) if n != ALL]
        found += [(f"resources.exclude[{i}]", n) for i, n in enumerate(self.exclude)]
        found += [(f"resources.overrides.{n}", n) for n in self.overrides]
        return tuple(found)
