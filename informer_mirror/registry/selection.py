"""Selection: which specs are mirrored, with which per-resource options, in which namespaces.

Place in the data flow: ``build_registry`` (main thread, start-up) calls :func:`select` on every
candidate spec (built-in and custom) and :func:`watch_scope` on each selected one; the informer
then reads the :class:`WatchScope` to build its list/watch requests. Pure functions of the
``resources:`` settings; nothing here owns state.

Namespaces. Field selectors have no "in" operator, so the two lists map differently:

* ``namespaces: [a, b]`` -> one list+watch per namespace (``WatchScope.namespaces``): the server
  sends only those namespaces' objects, and per-namespace watches are what RBAC with namespaced
  Roles allows anyway;
* ``exclude_namespaces: [x, y]`` -> one cluster-wide list+watch with the field selector
  ``metadata.namespace!=x,metadata.namespace!=y``, which every resource supports server-side, so
  excluded objects never cross the wire.

Cluster-scoped resources (nodes, namespaces, persistentvolumes, ...) ignore both.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from informer_mirror.errors import ConfigError
from informer_mirror.registry.spec import ResourceSpec
from informer_mirror.settings import ResourcesSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchScope:
    """What the informer of one spec lists and watches."""

    namespaces: tuple[str, ...] = ()
    """One list+watch per namespace here; empty means one cluster-wide list+watch."""
    label_selector: str | None = None
    """``labelSelector`` query parameter of every list and watch."""
    field_selector: str | None = None
    """``fieldSelector`` query parameter of every list and watch (the spec's own selector and
    the namespace exclusions, comma-joined: requirements are ANDed)."""


def _unknown(path: str, name: str, known: Sequence[str]) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(
        f"{path}: unknown resource {name!r}{hint}; known resources: {', '.join(sorted(known))}"
    )


def select(
    candidates: Sequence[ResourceSpec], resources: ResourcesSettings
) -> tuple[ResourceSpec, ...]:
    """The candidates ``include``/``exclude`` select, in candidate order, each with its
    per-resource options applied (``overrides``, or a custom entry's own) and its effective
    resync period filled in.

    Every name ``include``, ``exclude`` and ``overrides`` mention must be a candidate.
    """
    known = [spec.name for spec in candidates]
    for path, name in resources.referenced_names():
        if name not in known:
            raise _unknown(path, name, known)
    selected: list[ResourceSpec] = []
    for spec in candidates:
        if not resources.selects(spec.name):
            continue
        own = resources.overrides_for(spec.name)
        selected.append(
            dataclasses.replace(
                spec,
                resync_period=resources.resync_period_for(spec.name),
                label_selector=own.label_selector or spec.label_selector,
                field_selector=own.field_selector or spec.field_selector,
                keep_raw=own.keep_raw or spec.keep_raw,
            )
        )
    return tuple(selected)


def watch_scope(spec: ResourceSpec, resources: ResourcesSettings) -> WatchScope:
    """The namespaces and selectors the informer of ``spec`` uses (see the module docstring)."""
    requirements = [spec.field_selector] if spec.field_selector else []
    namespaces: tuple[str, ...] = ()
    if spec.namespaced:
        excluded = set(resources.exclude_namespaces)
        namespaces = tuple(dict.fromkeys(ns for ns in resources.namespaces if ns not in excluded))
        if resources.namespaces and not namespaces:
            # an empty tuple would mean "every namespace": the opposite of what was asked
            raise ConfigError("resources.exclude_namespaces: excludes every one of namespaces")
        if not resources.namespaces:
            requirements += [f"metadata.namespace!={ns}" for ns in resources.exclude_namespaces]
    return WatchScope(
        namespaces=namespaces,
        label_selector=spec.label_selector,
        field_selector=",".join(requirements) or None,
    )
