"""The API's own endpoints: resources, status, health, stats, the OpenAPI document, probes, metrics.

Place in the data flow: read-only views on waitress worker threads. They read component state
through the :class:`~informer_mirror.api.status.StatusProvider` (copies, no I/O) and the backend
(counts, breakdowns, ping); ``/metrics`` renders the injected CollectorRegistry, whose state
collector reads the same provider.

* ``/api/v1/resources``: every registered resource with its count and sync state;
* ``/api/v1/status``: overall verdict, every informer, the writer, the backend (pinged now);
* ``/api/v1/health``: the seed's overall health, 503 when unhealthy;
* ``/api/v1/stats/overview``: counts for every resource with breakdowns;
* ``/api/v1/openapi.json``: the document built by ``openapi.py``;
* ``/healthz`` (alive: the process answers) and ``/readyz`` (ready, else 503 with reasons);
* ``/metrics``: the Prometheus exposition (OpenMetrics when the scraper asks for it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request
from prometheus_client.exposition import choose_encoder

from informer_mirror import __version__
from informer_mirror.api.params import NO_PARAMETERS, single_values
from informer_mirror.api.stats import overview
from informer_mirror.api.status import StatusProvider, health, readiness
from informer_mirror.backends.base import Backend
from informer_mirror.errors import BackendError
from informer_mirror.informer.reflector_types import ReflectorState
from informer_mirror.metrics import MirrorMetrics
from informer_mirror.registry import Registry
from informer_mirror.writer.metrics_hooks import WriterStatus

Clock = Callable[[], float]


def _no_parameters() -> None:
    single_values(request.args.to_dict(flat=False), NO_PARAMETERS)


def _age(now: float, stamp: float | None) -> float | None:
    return None if stamp is None else round(max(now - stamp, 0.0), 3)


def informer_json(
    state: ReflectorState, *, objects: int | None, degraded: str | None, now: float
) -> dict[str, Any]:
    """One informer in ``/api/v1/status``."""
    return {
        "phase": state.phase.value,
        "synced": state.synced,
        "degraded": degraded,
        "circuit": state.circuit,
        "failures": state.failures,
        "lastError": state.last_error,
        "lastEventAgeSeconds": _age(now, state.last_event_at),
        "resourceVersion": state.resource_version,
        "storeObjects": objects,
        "events": state.events,
        "lists": state.lists,
        "relists": state.relists,
        "watchRestarts": dict(state.watch_restarts),
    }


def writer_json(writer: WriterStatus, now: float) -> dict[str, Any]:
    """The writer in ``/api/v1/status``."""
    return {
        "running": writer.running,
        "workers": writer.workers,
        "queueDepth": writer.queue_depth,
        "inFlight": writer.in_flight,
        "batches": writer.batches,
        "lastFlushAgeSeconds": _age(now, writer.last_flush_at),
        "circuit": writer.circuit,
        "firstFullSyncFlushed": writer.first_full_sync_flushed,
        "lastError": writer.last_error,
        "errors": dict(writer.errors),
        "resources": {
            name: {
                "phase": p.phase,
                "staleDeleted": p.stale_deleted,
                "pending": p.pending,
                "upserted": p.upserted,
                "deleted": p.deleted,
                "unchanged": p.unchanged,
                "skipped": p.skipped,
            }
            for name, p in writer.resources.items()
        },
    }


def backend_json(backend: Backend) -> dict[str, Any]:
    """Ping the backend now: ``{"up", "pingSeconds", "error"}``."""
    started = time.perf_counter()
    try:
        backend.ping()
    except BackendError as e:
        return {"up": False, "pingSeconds": None, "error": f"{type(e).__name__}: {e}"}
    return {"up": True, "pingSeconds": round(time.perf_counter() - started, 6), "error": None}


def system_blueprint(
    *,
    registry: Registry,
    backend: Backend,
    status: StatusProvider,
    document: dict[str, Any],
    clock: Clock = time.monotonic,
) -> Blueprint:
    """``/api/v1/resources``, ``status``, ``health``, ``stats/overview``, ``openapi.json``."""
    bp = Blueprint("system", __name__)
    started_at = clock()

    @bp.get("/api/v1/resources")
    def resources() -> dict[str, Any]:
        _no_parameters()
        counts = backend.counts()
        states = status.reflector_states()
        degraded = status.degraded()
        items = []
        for spec in registry:
            state = states.get(spec.name)
            items.append(
                {
                    "name": spec.name,
                    "apiVersion": spec.api_version,
                    "kind": spec.kind,
                    "namespaced": spec.namespaced,
                    "icon": spec.icon,
                    "count": counts.get(spec.name),
                    "synced": state is not None and state.synced,
                    "phase": state.phase.value if state is not None else None,
                    "degraded": degraded.get(spec.name),
                }
            )
        return {"items": items, "total": len(items)}

    @bp.get("/api/v1/status")
    def status_view() -> dict[str, Any]:
        _no_parameters()
        now = clock()
        states = status.reflector_states()
        sizes = status.store_sizes()
        degraded = status.degraded()
        writer = status.writer_state()
        verdict = health(registry, status)
        return {
            "status": verdict.status,
            "ready": readiness(registry, status).ready,
            "problems": list(verdict.problems),
            "version": __version__,
            "cluster": registry.cluster,
            "uptimeSeconds": round(now - started_at, 3),
            "informers": {
                name: informer_json(
                    state, objects=sizes.get(name), degraded=degraded.get(name), now=now
                )
                for name, state in states.items()
            },
            "writer": None if writer is None else writer_json(writer, now),
            "backend": backend_json(backend),
            "health": dict(status.health_checks()),
        }

    @bp.get("/api/v1/health")
    def health_view() -> tuple[dict[str, Any], int]:
        _no_parameters()
        verdict = health(registry, status)
        body = {
            "status": verdict.status,
            "ready": readiness(registry, status).ready,
            "problems": list(verdict.problems),
        }
        return body, 503 if verdict.status == "unhealthy" else 200

    @bp.get("/api/v1/stats/overview")
    def stats() -> dict[str, Any]:
        _no_parameters()
        return overview(registry, backend)

    @bp.get("/api/v1/openapi.json")
    def openapi() -> dict[str, Any]:
        _no_parameters()
        return document

    return bp


def probes_blueprint(*, registry: Registry, status: StatusProvider) -> Blueprint:
    """``/healthz`` and ``/readyz`` (open without a token; query parameters ignored)."""
    bp = Blueprint("probes", __name__)

    @bp.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @bp.get("/readyz")
    def readyz() -> tuple[dict[str, Any], int]:
        verdict = readiness(registry, status)
        body = {
            "ready": verdict.ready,
            "reasons": list(verdict.reasons),
            "degraded": dict(verdict.degraded),
        }
        return body, 200 if verdict.ready else 503

    return bp


def metrics_blueprint(metrics: MirrorMetrics) -> Blueprint:
    """``/metrics``: the exposition of ``metrics.registry``."""
    bp = Blueprint("metrics", __name__)

    @bp.get("/metrics")
    def exposition() -> Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encoder(metrics.registry), status=200, content_type=content_type)

    return bp
