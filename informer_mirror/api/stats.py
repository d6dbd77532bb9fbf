"""``/api/v1/stats/overview``: counts of every resource, with breakdowns of the well-known kinds.

Place in the data flow: read-only, on the waitress worker thread serving the request; one
``counts()`` and one ``group_counts`` per breakdown, all answered by the backend (GROUP BY in
SQLite, an aggregation in MongoDB), never by loading documents into Python.

The breakdowns the seed promises, keyed by the built-in kind they belong to (a custom resource has
counts only): Pods by phase and by node, Deployments fully available or not, Nodes ready or not,
Events by type, Jobs by outcome. Group values become JSON object keys: booleans get the words in
:attr:`Breakdown.words`, a missing value becomes :attr:`Breakdown.missing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from informer_mirror.backends.base import Backend, FieldComparison, GroupCount
from informer_mirror.registry import Registry, ResourceSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class Breakdown:
    """One breakdown of a kind: a name in the answer and what to group by."""

    name: str
    by: str | FieldComparison
    """A document field, or a comparison of two numeric fields."""
    words: Mapping[bool, str] = field(default_factory=lambda: {True: "true", False: "false"})
    """Keys for boolean groups."""
    missing: str = "unknown"
    """Key for documents without the field."""

    def key(self, value: object) -> str:
        """The JSON key of one group value."""
        if value is None or value == "":
            return self.missing
        if isinstance(value, bool):
            return self.words[value]
        return str(value)

    def render(self, groups: list[GroupCount]) -> dict[str, int]:
        """``{key: count}``; values that render alike (``"true"`` and ``True``) add up."""
        out: dict[str, int] = {}
        for value, count in groups:
            key = self.key(value)
            out[key] = out.get(key, 0) + count
        return out


BREAKDOWNS: Mapping[tuple[str, str], tuple[Breakdown, ...]] = {
    ("", "Pod"): (
        Breakdown(name="phase", by="phase"),
        Breakdown(name="node", by="nodeName", missing="unscheduled"),
    ),
    ("apps", "Deployment"): (
        Breakdown(
            name="availability",
            by=FieldComparison("availableReplicas", ">=", "replicas"),
            words={True: "fullyAvailable", False: "notFullyAvailable"},
        ),
    ),
    ("", "Node"): (
        Breakdown(name="readiness", by="ready", words={True: "ready", False: "notReady"}),
    ),
    ("", "Event"): (Breakdown(name="type", by="type"),),
    ("batch", "Job"): (Breakdown(name="outcome", by="outcome"),),
}
"""Breakdowns per built-in (group, kind)."""


def breakdowns_of(spec: ResourceSpec, backend: Backend) -> dict[str, dict[str, int]]:
    """Every breakdown of ``spec``'s kind, computed by ``backend``."""
    return {
        b.name: b.render(backend.group_counts(spec, b.by))
        for b in BREAKDOWNS.get((spec.group, spec.kind), ())
    }


def overview(registry: Registry, backend: Backend) -> dict[str, Any]:
    """The body of ``/api/v1/stats/overview``."""
    counts = backend.counts()
    resources: dict[str, dict[str, Any]] = {
        spec.name: {
            "kind": spec.kind,
            "count": counts.get(spec.name, 0),
            # a resource whose table does not exist (yet) has nothing to break down
            "breakdowns": breakdowns_of(spec, backend) if spec.name in counts else {},
        }
        for spec in registry
    }
    total = sum(counts.get(spec.name, 0) for spec in registry)
    return {"total": total, "resources": resources}
