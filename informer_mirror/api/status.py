"""What the API knows about the daemon's components, and the verdicts derived from it.

Place in the data flow: read-only, on the waitress worker threads serving ``/api/v1/status``,
``/api/v1/health``, ``/api/v1/resources`` and ``/readyz``. The daemon implements
:class:`StatusProvider` over its informers, writer, backend checks and health monitor; tests give a
small fake. This module only turns those states into verdicts (pure functions, no I/O):

* readiness (``/readyz``): every informer has synced and the writer has flushed its first full
  sync. A resource the cluster does not serve or that RBAC forbids is *degraded*: reported, but it
  does not hold back readiness of the others (issue 7);
* overall health (``/api/v1/health``, ``/api/v1/status``): ``unhealthy`` when the mirror cannot
  be written (backend down, writer circuit open, or the health monitor says so of the writer or
  backend), ``degraded`` when something is wrong but the mirror still works (a reflector's circuit
  is open, a resource is degraded, a health check failed), else ``healthy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from informer_mirror.metrics import ComponentStates
from informer_mirror.registry import Registry

HEALTHY = "healthy"
DEGRADED = "degraded"
UNHEALTHY = "unhealthy"

_WRITE_PATH = ("writer", "backend")
"""Health-monitor components whose failure means the mirror is not being written."""


class StatusProvider(ComponentStates, Protocol):
    """Component state for the API: the same methods the metrics collector reads
    (:class:`informer_mirror.metrics.ComponentStates`), so the daemon implements one object
    for both. Every method is called on request threads and must return quickly (no I/O)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Readiness:
    """The ``/readyz`` verdict."""

    ready: bool
    reasons: tuple[str, ...] = ()
    """Why not ready, one line per component."""
    degraded: Mapping[str, str] = field(default_factory=dict)
    """Resources left out of the verdict, with why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """The overall verdict of ``/api/v1/health`` and ``/api/v1/status``."""

    status: str
    """``healthy``, ``degraded`` or ``unhealthy``."""
    problems: tuple[str, ...] = ()
    """Every problem found, one line each, most severe first."""


def readiness(registry: Registry, status: StatusProvider) -> Readiness:
    """Ready when every non-degraded resource has synced and the first full sync is flushed."""
    states = status.reflector_states()
    degraded = dict(status.degraded())
    reasons: list[str] = []
    for spec in registry:
        if spec.name in degraded:
            continue
        state = states.get(spec.name)
        if state is None:
            reasons.append(f"{spec.name}: informer not started")
        elif not state.synced:
            why = f"{spec.name}: not synced yet ({state.phase.value})"
            if state.last_error:
                why += f"; last error: {state.last_error}"
            reasons.append(why)
    writer = status.writer_state()
    if writer is None:
        reasons.append("writer: not started")
    elif not writer.first_full_sync_flushed:
        reasons.append("writer: first full sync not flushed to the backend yet")
    return Readiness(ready=not reasons, reasons=tuple(reasons), degraded=degraded)


def health(registry: Registry, status: StatusProvider) -> Health:
    """The overall verdict (see the module docstring)."""
    severe: list[str] = []
    minor: list[str] = []
    if status.backend_up() is False:
        severe.append("backend: the latest ping failed")
    writer = status.writer_state()
    if writer is not None and writer.circuit != "closed":
        severe.append(f"writer: circuit {writer.circuit}")
    for component, problem in sorted(status.health_checks().items()):
        if problem is not None:
            (severe if component in _WRITE_PATH else minor).append(f"{component}: {problem}")
    states = status.reflector_states()
    for name, reason in sorted(status.degraded().items()):
        minor.append(f"{name}: degraded: {reason}")
    for spec in registry:
        state = states.get(spec.name)
        if state is not None and state.circuit != "closed":
            minor.append(f"{spec.name}: circuit {state.circuit}")
    verdict = UNHEALTHY if severe else DEGRADED if minor else HEALTHY
    return Health(status=verdict, problems=(*severe, *minor))
