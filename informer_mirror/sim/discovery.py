"""Discovery documents of the simulated API server (``/version``, ``/api``, ``/apis``, ...).

Place in the data flow: request threads of ``sim/handler.py`` call these builders for discovery
paths; they read the kinds the state serves (minus those a fault unserves) and return plain
JSON-ready dicts. The shapes are the legacy (non-aggregated) discovery documents: kubectl asks for
aggregated discovery (``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``)
first, sees a plain ``application/json`` answer and falls back to ``/api`` + ``/apis`` + one
``APIResourceList`` per group version, exactly as it does against an older apiserver. Pure
functions; no state of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from informer_mirror.kinds import KindInfo

Obj = dict[str, Any]

KUBE_VERSION = (1, 34, 2)
"""The Kubernetes version the sim reports: its list/watch semantics follow 1.34+ (WatchList on,
consistent lists). kubectl warns only beyond one minor version of skew."""

VERBS = ["create", "delete", "get", "list", "update", "watch"]
"""Verbs advertised for every resource: exactly the ones the sim serves (no patch, no
deletecollection)."""

_CATEGORY_ALL = {
    "pods",
    "services",
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "jobs",
    "cronjobs",
    "horizontalpodautoscalers",
}


def version_info() -> Obj:
    """``/version``: a ``version.Info``."""
    major, minor, patch = KUBE_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "emulationMajor": str(major),
        "emulationMinor": str(minor),
        "minCompatibilityMajor": str(major),
        "minCompatibilityMinor": str(minor - 1),
        "gitVersion": f"v{major}.{minor}.{patch}-informer-mirror-sim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.9",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> Obj:
    """``/api``: the legacy core group's ``APIVersions``."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _resource(kind: KindInfo) -> Obj:
    res: Obj = {
        "name": kind.plural,
        "singularName": kind.singular,
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": list(VERBS),
    }
    if kind.short_names:
        res["shortNames"] = list(kind.short_names)
    if kind.plural in _CATEGORY_ALL and kind.group in ("", "apps", "batch", "autoscaling"):
        res["categories"] = ["all"]
    return res


def resource_list(group_version: str, kinds: Iterable[KindInfo]) -> Obj:
    """``/api/v1`` or ``/apis/{group}/{version}``: an ``APIResourceList``."""
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [_resource(k) for k in kinds if k.group_version == group_version],
    }


def _groups(kinds: Iterable[KindInfo]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for k in kinds:
        if k.group:
            versions = groups.setdefault(k.group, [])
            if k.version not in versions:
                versions.append(k.version)
    return groups


def _group(name: str, versions: list[str]) -> Obj:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def group_list(kinds: Iterable[KindInfo]) -> Obj:
    """``/apis``: an ``APIGroupList`` of every named group."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(name, versions) for name, versions in _groups(kinds).items()],
    }


def api_group(name: str, kinds: Iterable[KindInfo]) -> Obj | None:
    """``/apis/{group}``: one ``APIGroup``, or None when no kind is served in it."""
    versions = _groups(kinds).get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}
