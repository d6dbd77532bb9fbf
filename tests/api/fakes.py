"""Fakes at the API's own seams: a StatusProvider, writer state, reflector states, a Backend
wrapper that fails on demand, and realistic documents to fill a real SQLite backend with.

No ``mock.patch``: each fake implements the Protocol the API declares, so a change of that
Protocol breaks these fakes under mypy/ruff the same way it would break the daemon.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from informer_mirror.backends.base import (
    Upsert,
)
from informer_mirror.backends.sqlite import SqliteBackend
from informer_mirror.informer.reflector_types import Phase, ReflectorState
from informer_mirror.registry import Registry
from informer_mirror.retry import CircuitSnapshot, CircuitState
from informer_mirror.writer.metrics_hooks import WriterStatus
from tests.backends.support import BackendProxy

CREATED = "2024-05-01T10:00:00Z"


def reflector_state(name: str, **changes: Any) -> ReflectorState:
    """A reflector snapshot of a healthy, synced, watching informer, with ``changes``."""
    values: dict[str, Any] = {
        "name": name,
        "phase": Phase.WATCHING,
        "resource_version": "100",
        "synced": True,
        "last_error": None,
        "failures": 0,
        "circuit": "closed",
        "last_event_at": 95.0,
        "lists": 1,
        "relists": 0,
        "list_requests": 1,
        "watch_requests": 1,
        "events": 3,
        "malformed_events": 0,
        "dropped_events": 0,
        "watch_restarts": {},
    }
    values.update(changes)
    return ReflectorState(**values)


def writer_status(**changes: Any) -> WriterStatus:
    """The snapshot of a running writer that flushed its first full sync, with ``changes``."""
    circuit = changes.get("circuit", "closed")
    values: dict[str, Any] = {
        "running": True,
        "workers": 1,
        "queue_depth": 0,
        "in_flight": 0,
        "last_flush_at": 90.0,
        "last_flush_age": 10.0,
        "batches": 4,
        "circuit": circuit,
        "circuit_detail": CircuitSnapshot(
            state=CircuitState(circuit),
            consecutive_failures=0,
            consecutive_opens=0,
            last_error=None,
            opened_at=None,
            next_attempt_at=None,
        ),
        "first_full_sync_flushed": True,
    }
    values.update(changes)
    return WriterStatus(**values)


@dataclass(kw_only=True)
class FakeStatus:
    """A StatusProvider whose answers a test sets directly."""

    states: dict[str, ReflectorState] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    writer: WriterStatus | None = field(default_factory=writer_status)
    up: bool | None = True
    degraded_resources: dict[str, str] = field(default_factory=dict)
    checks: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def all_synced(cls, registry: Registry) -> FakeStatus:
        """Every informer synced and the writer flushed: ready."""
        return cls(
            states={spec.name: reflector_state(spec.name) for spec in registry},
            sizes={spec.name: 0 for spec in registry},
        )

    def reflector_states(self) -> Mapping[str, ReflectorState]:
        return dict(self.states)

    def store_sizes(self) -> Mapping[str, int]:
        return dict(self.sizes)

    def writer_state(self) -> WriterStatus | None:
        return self.writer

    def backend_up(self) -> bool | None:
        return self.up

    def degraded(self) -> Mapping[str, str]:
        return dict(self.degraded_resources)

    def health_checks(self) -> Mapping[str, str | None]:
        return dict(self.checks)


class FailingBackend(BackendProxy):
    """A real backend whose reads and pings raise ``error`` while it is set."""

    def __init__(self, inner: SqliteBackend) -> None:
        super().__init__(inner)
        self.error: BaseException | None = None

    def before(self, operation: str) -> None:
        if self.error is not None and operation in ("read", "ping"):
            raise self.error


# -- documents ----------------------------------------------------------------------------------


def meta(name: str, namespace: str | None, uid: str, **labels: str) -> dict[str, Any]:
    """Raw object metadata."""
    out: dict[str, Any] = {
        "name": name,
        "uid": uid,
        "resourceVersion": "7",
        "creationTimestamp": CREATED,
        "labels": dict(labels),
    }
    if namespace is not None:
        out["namespace"] = namespace
    return out


def raw_pod(
    name: str, namespace: str, uid: str, *, phase: str, node: str | None, **labels: str
) -> dict[str, Any]:
    """A raw Pod."""
    spec: dict[str, Any] = {"containers": [{"name": "main", "image": "nginx:1.27"}]}
    if node is not None:
        spec["nodeName"] = node
    return {
        "metadata": meta(name, namespace, uid, **labels),
        "spec": spec,
        "status": {"phase": phase},
    }


def raw_node(name: str, uid: str, *, ready: bool) -> dict[str, Any]:
    """A raw Node."""
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    return {"metadata": meta(name, None, uid), "status": {"conditions": [condition]}}


def raw_deployment(
    name: str, namespace: str, uid: str, *, replicas: int, available: int
) -> dict[str, Any]:
    """A raw Deployment."""
    return {
        "metadata": meta(name, namespace, uid, app=name),
        "spec": {"replicas": replicas},
        "status": {"availableReplicas": available, "readyReplicas": available},
    }


def raw_event(name: str, namespace: str, uid: str, *, type_: str) -> dict[str, Any]:
    """A raw core/v1 Event."""
    return {"metadata": meta(name, namespace, uid), "type": type_, "reason": "Pulled"}


def raw_job(name: str, namespace: str, uid: str, *, outcome: str) -> dict[str, Any]:
    """A raw Job that ended ``Complete``/``Failed`` or is still running."""
    status: dict[str, Any] = {"active": 1}
    if outcome in ("Complete", "Failed"):
        status = {"conditions": [{"type": outcome, "status": "True"}]}
    return {"metadata": meta(name, namespace, uid), "spec": {}, "status": status}


def upsert(registry: Registry, resource: str, raw: Mapping[str, Any]) -> Upsert:
    """The writer's upsert of ``raw`` (document built by the registry, as in production)."""
    doc = registry.to_document(resource, raw)
    return Upsert(
        doc["uid"],
        doc["namespace"] or "",
        doc["name"],
        doc["resourceVersion"],
        orjson.dumps(doc),
    )


def fill(backend: SqliteBackend, registry: Registry, resource: str, raws: list[Any]) -> None:
    """Store ``raws`` as documents of ``resource`` through the backend's own ``apply``."""
    spec = registry[resource]
    result = backend.apply(spec, [upsert(registry, resource, raw) for raw in raws], [])
    assert result.upserted == len(raws) and not result.failed


SEARCH_NAMES = ("a%b-1", "a_b-2", "dot.star-3", "quote-o'neil-4", "paren(x)-5")
"""Pod names holding SQL and regex metacharacters, to prove ``search`` matches literally."""


def populate(backend: SqliteBackend, registry: Registry) -> None:
    """The standard test mirror: 30 pods in two namespaces on two nodes (+ 5 odd names),
    3 nodes, 4 deployments, 5 events, 4 jobs. Deterministic."""
    for spec in registry:
        backend.ensure_schema(spec)
    pods = [
        raw_pod(
            f"web-{i:02d}",
            "default" if i % 2 == 0 else "kube-system",
            f"pod-{i:02d}",
            phase="Running" if i % 3 else "Pending",
            node=None if i % 5 == 0 else f"node-{i % 2}",
            app="web" if i % 4 else "db",
            tier="front" if i < 15 else "back",
        )
        for i in range(30)
    ]
    pods += [
        raw_pod(name, "odd", f"odd-{n}", phase="Succeeded", node="node-0")
        for n, name in enumerate(SEARCH_NAMES)
    ]
    fill(backend, registry, "pods", pods)
    fill(
        backend,
        registry,
        "nodes",
        [raw_node(f"node-{i}", f"node-uid-{i}", ready=i != 2) for i in range(3)],
    )
    fill(
        backend,
        registry,
        "deployments",
        [
            raw_deployment(f"app-{i}", "default", f"dep-{i}", replicas=3, available=3 - i % 2)
            for i in range(4)
        ],
    )
    fill(
        backend,
        registry,
        "events",
        [
            raw_event(f"ev-{i}", "default", f"ev-{i}", type_="Warning" if i < 2 else "Normal")
            for i in range(5)
        ],
    )
    fill(
        backend,
        registry,
        "jobs",
        [
            raw_job("done", "default", "job-0", outcome="Complete"),
            raw_job("done-2", "default", "job-1", outcome="Complete"),
            raw_job("broken", "default", "job-2", outcome="Failed"),
            raw_job("busy", "default", "job-3", outcome="Running"),
        ],
    )
