"""The daemon's StatusProvider: component state for the API and the metrics collector.

Place in the data flow: beside it, read-only. The composition root (``daemon.py``) builds one
:class:`MirrorStatus` over its informers, writer and health monitor and hands it to
``api.create_app`` (``/api/v1/status``, ``/api/v1/health``, ``/readyz`` on waitress worker
threads) and to ``MirrorMetrics.register_state`` (the scrape-time collector, on the thread serving
``/metrics``). It owns nothing: every method asks a component for a snapshot (copies under the
components' own short locks, never I/O), so any thread may call it at any time.

It implements :class:`informer_mirror.api.status.StatusProvider` (the same Protocol as
``metrics.ComponentStates``) over small Protocols of its own, so a plain ``Informer`` and the
daemon's per-resource ``ResourceInformers`` both fit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sized
from typing import Protocol

from informer_mirror.informer.reflector_types import ReflectorState
from informer_mirror.writer.metrics_hooks import WriterStatus


class ResourceView(Protocol):
    """One resource's informer as the status reads it (an ``Informer`` fits)."""

    def state(self) -> ReflectorState:
        """The reflector's snapshot."""
        ...

    @property
    def store(self) -> Sized:
        """The resource's cache; only its size is read."""
        ...


class WriterView(Protocol):
    """The batch writer as the status reads it (a ``BatchWriter`` fits)."""

    def status(self) -> WriterStatus:
        """A snapshot of the writer."""
        ...


class HealthView(Protocol):
    """The health monitor's published results (a ``health.HealthMonitor`` fits)."""

    def checks(self) -> Mapping[str, str | None]:
        """Latest verdict per component: None when healthy, else the problem."""
        ...

    def backend_up(self) -> bool | None:
        """The latest backend ping; None before the first."""
        ...


def _nothing_degraded() -> Mapping[str, str]:
    return {}


class MirrorStatus:
    """A StatusProvider over real components."""

    def __init__(
        self,
        informers: Mapping[str, ResourceView],
        writer: WriterView | None,
        *,
        degraded: Callable[[], Mapping[str, str]] = _nothing_degraded,
        health: HealthView | None = None,
    ) -> None:
        """``informers``: resource name -> its informer; ``degraded``: resources the API refuses
        (403/404) with why; ``health``: the monitor, None when there is none (tests)."""
        self._informers = dict(informers)
        self._writer = writer
        self._degraded = degraded
        self._health = health

    def reflector_states(self) -> Mapping[str, ReflectorState]:
        """Every informer's reflector snapshot, by resource name."""
        return {name: informer.state() for name, informer in self._informers.items()}

    def store_sizes(self) -> Mapping[str, int]:
        """Objects in each informer's Store, by resource name."""
        return {name: len(informer.store) for name, informer in self._informers.items()}

    def writer_state(self) -> WriterStatus | None:
        """The batch writer's snapshot, or None when there is no writer."""
        return None if self._writer is None else self._writer.status()

    def backend_up(self) -> bool | None:
        """The health monitor's latest backend ping, None before its first check."""
        return None if self._health is None else self._health.backend_up()

    def degraded(self) -> Mapping[str, str]:
        """Resources the API server does not serve or forbids, with why."""
        return dict(self._degraded())

    def health_checks(self) -> Mapping[str, str | None]:
        """The health monitor's latest verdicts; empty before its first run."""
        return {} if self._health is None else dict(self._health.checks())
