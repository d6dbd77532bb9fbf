"""The table of built-in Kubernetes kinds: the one place a (group, version, plural, kind) lives.

Both the simulated cluster (``sim/``) and the resource registry (``registry/``) are built from this
table, so the sim and the informer can never disagree about a kind. Pure data; no thread owns it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class KindInfo:
    """Identity of one API resource type, as the API server's discovery documents describe it."""

    group: str
    """API group; ``""`` is the legacy core group (served under ``/api``)."""
    version: str
    """API version within the group, e.g. ``v1``."""
    plural: str
    """Resource name in URLs, e.g. ``pods``."""
    singular: str
    """Singular resource name, e.g. ``pod``."""
    kind: str
    """Object kind, e.g. ``Pod``."""
    namespaced: bool
    """True when objects live in a namespace."""
    short_names: tuple[str, ...] = ()
    """kubectl short names, e.g. ``("po",)``."""

    @property
    def api_version(self) -> str:
        """``apiVersion`` of objects of this kind: ``v1`` or ``apps/v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        """``kind`` of a list response, e.g. ``PodList``."""
        return f"{self.kind}List"

    @property
    def group_version(self) -> str:
        """Alias of :attr:`api_version`, as discovery documents call it."""
        return self.api_version

    def path(self, namespace: str | None = None) -> str:
        """Collection URL path, cluster-wide or (for namespaced kinds) in one namespace."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None and self.namespaced:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


def _k(  # noqa: PLR0917 - a compact table row reads best positionally
    group: str,
    version: str,
    plural: str,
    singular: str,
    kind: str,
    namespaced: bool,
    *short_names: str,
) -> KindInfo:
    return KindInfo(
        group=group,
        version=version,
        plural=plural,
        singular=singular,
        kind=kind,
        namespaced=namespaced,
        short_names=short_names,
    )


BUILTIN_KINDS: tuple[KindInfo, ...] = (
    # core/v1
    _k("", "v1", "namespaces", "namespace", "Namespace", False, "ns"),
    _k("", "v1", "nodes", "node", "Node", False, "no"),
    _k("", "v1", "pods", "pod", "Pod", True, "po"),
    _k("", "v1", "services", "service", "Service", True, "svc"),
    _k("", "v1", "configmaps", "configmap", "ConfigMap", True, "cm"),
    _k("", "v1", "secrets", "secret", "Secret", True),
    _k("", "v1", "events", "event", "Event", True, "ev"),
    _k(
        "",
        "v1",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        True,
        "pvc",
    ),
    _k("", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", False, "pv"),
    _k("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, "sa"),
    # apps/v1
    _k("apps", "v1", "deployments", "deployment", "Deployment", True, "deploy"),
    _k("apps", "v1", "statefulsets", "statefulset", "StatefulSet", True, "sts"),
    _k("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True, "ds"),
    _k("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, "rs"),
    # batch/v1
    _k("batch", "v1", "jobs", "job", "Job", True),
    _k("batch", "v1", "cronjobs", "cronjob", "CronJob", True, "cj"),
    # networking.k8s.io/v1
    _k("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", True, "ing"),
    _k(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "networkpolicy",
        "NetworkPolicy",
        True,
        "netpol",
    ),
    # autoscaling/v2
    _k(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        True,
        "hpa",
    ),
    # discovery.k8s.io/v1
    _k("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", True),
)
"""Every kind the registry knows out of the box and the sim serves, in dependency order
(namespaces and nodes first, owners before the objects they own)."""

BUILTIN_BY_PLURAL: dict[str, KindInfo] = {k.plural: k for k in BUILTIN_KINDS}
"""Lookup by plural resource name."""
