"""Registry: the validated, ordered set of ResourceSpecs the whole daemon is built from.

Place in the data flow: ``build_registry`` (main thread, start-up) creates it from the settings;
afterwards it is read-only and every thread may read it without a lock: the daemon starts one
informer per spec (with :meth:`Registry.scope` and :meth:`Registry.transform_for`), the writer and
backends create one collection per spec, the API one blueprint per spec, ``informer-mirror
resources`` prints :meth:`Registry.describe`, and the metrics collector reads
:meth:`Registry.transform_failures`.

Validation happens here, once, over all specs together: each spec's own fields
(``spec.validate_spec``), then uniqueness of names, collections and (group, kind).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from informer_mirror.errors import ConfigError
from informer_mirror.registry.selection import WatchScope
from informer_mirror.registry.spec import ResourceSpec, validate_spec
from informer_mirror.registry.transformers.common import Doc, Obj


def _describe_owner(spec: ResourceSpec) -> str:
    origin = f"resource {spec.source}" if spec.source else "built-in resource"
    return f"the {origin} {spec.name!r} ({spec.api_version} {spec.kind})"


def validate_specs(specs: Iterable[ResourceSpec]) -> None:
    """Check every spec, and that names, collections and (group, kind) pairs are unique."""
    names: dict[str, ResourceSpec] = {}
    collections: dict[str, ResourceSpec] = {}
    kinds: dict[tuple[str, str], ResourceSpec] = {}
    for spec in specs:
        validate_spec(spec)
        if (other := names.get(spec.name)) is not None:
            raise ConfigError(
                f"{spec.where}.name: {spec.name!r} is already the name of {_describe_owner(other)}"
            )
        if (other := collections.get(spec.collection)) is not None:
            raise ConfigError(
                f"{spec.where}.collection: {spec.collection!r} is already the collection of "
                f"{_describe_owner(other)}"
            )
        if (other := kinds.get((spec.group, spec.kind))) is not None:
            raise ConfigError(
                f"{spec.where}.kind: {spec.kind} of group {spec.group or 'core'!r} is already "
                f"mirrored as {_describe_owner(other)}"
            )
        names[spec.name] = collections[spec.collection] = kinds[(spec.group, spec.kind)] = spec


class Registry:
    """The mirrored resources, in order (built-ins in ``kinds.BUILTIN_KINDS`` order, then custom
    resources in file order). Iterating yields specs; indexing takes a resource name."""

    __slots__ = ("_by_name", "_scopes", "_specs", "cluster")

    def __init__(
        self,
        specs: Iterable[ResourceSpec],
        *,
        cluster: str = "default",
        scopes: Mapping[str, WatchScope] | None = None,
    ) -> None:
        """Validate ``specs`` (ConfigError on the first problem). ``scopes`` gives the watch
        scope per name; a spec without one is watched cluster-wide with its own selectors."""
        self._specs = tuple(specs)
        validate_specs(self._specs)
        self._by_name = {spec.name: spec for spec in self._specs}
        given = dict(scopes or {})
        self._scopes = {
            spec.name: given.get(spec.name)
            or WatchScope(label_selector=spec.label_selector, field_selector=spec.field_selector)
            for spec in self._specs
        }
        self.cluster = cluster
        """Cluster name stored in every document."""

    def __iter__(self) -> Iterator[ResourceSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> ResourceSpec:
        return self._by_name[name]

    def __repr__(self) -> str:
        return f"Registry(cluster={self.cluster!r}, names={list(self.names)!r})"

    def get(self, name: str) -> ResourceSpec | None:
        """The spec named ``name``, or None."""
        return self._by_name.get(name)

    @property
    def specs(self) -> tuple[ResourceSpec, ...]:
        """Every spec, in order."""
        return self._specs

    @property
    def names(self) -> tuple[str, ...]:
        """Every resource name, in order."""
        return tuple(self._by_name)

    def scope(self, name: str) -> WatchScope:
        """Namespaces and selectors the informer of resource ``name`` lists and watches."""
        return self._scopes[name]

    def transform_for(self, name: str) -> Callable[[Obj], Doc]:
        """The Store ingest transform of resource ``name`` (raw object -> document)."""
        return self._by_name[name].transform_for(self.cluster)

    def to_document(self, name: str, obj: Obj) -> Doc:
        """The document of raw object ``obj`` of resource ``name`` (see ResourceSpec)."""
        return self._by_name[name].to_document(obj, cluster=self.cluster)

    def describe(self) -> list[dict[str, Any]]:
        """One JSON-ready summary per resource: name, apiVersion, kind, namespaced, icon,
        resyncPeriod (seconds; 0 = off), in registry order."""
        return [
            {
                "name": spec.name,
                "apiVersion": spec.api_version,
                "kind": spec.kind,
                "namespaced": spec.namespaced,
                "icon": spec.icon,
                "resyncPeriod": spec.resync_period,
            }
            for spec in self._specs
        ]

    def transform_failures(self) -> dict[str, dict[str, int]]:
        """``{resource: {exception type: failures}}`` for resources that had any."""
        return {spec.name: counts for spec in self._specs if (counts := spec.failures.counts())}
