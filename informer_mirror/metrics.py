"""Prometheus metrics: every definition, the hooks components call, and the scrape-time collector.

Place in the data flow: beside it, not in it. Components never import ``prometheus_client``; they
call hook objects made here, which implement the components' own metrics Protocols:

* :meth:`MirrorMetrics.queue_hooks` -> ``informer.workqueue.QueueMetrics`` (any thread that adds to
  or takes from the WorkQueue, under the queue's lock: one counter/histogram update per batch of
  keys, no I/O);
* :meth:`MirrorMetrics.writer_hooks` -> ``writer.metrics_hooks.WriterMetrics`` (writer threads);
* :meth:`MirrorMetrics.informer_handler` -> an ``informer.EventHandler`` counting the changes an
  informer delivers (its reflector thread);
* :meth:`MirrorMetrics.observe_request` (waitress worker threads serving the API).

State (synced, circuits, Store sizes, reflector counters, writer progress, backend up, health) is
not pushed at all: :class:`StateCollector` reads it from a :class:`ComponentStates` when Prometheus
scrapes (``collect`` runs on the thread serving ``/metrics``), so a gauge is never stale.

This module owns the metric names. Rules (ARCHITECTURE.md §11): ``informer_mirror_<subsystem>_
<name>_<unit>``, counters end in ``_total``, durations in ``_seconds``; labels are bounded
(``resource``, ``event``, ``reason``, ``operation``, ``component``, ``endpoint``, ``status``),
never a namespace, name or uid. Everything is registered on an injected ``CollectorRegistry``,
never on the process-global one, so tests and several apps in one process do not collide.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.utils import floatToGoString

from informer_mirror import __version__
from informer_mirror.informer.informer import EventHandler
from informer_mirror.informer.reflector_types import ReflectorState
from informer_mirror.informer.stored import StoredObject
from informer_mirror.writer.metrics_hooks import WriterStatus

log = logging.getLogger(__name__)

NS = "informer_mirror"

QUEUE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds a key waits in the WorkQueue / a writer holds it: ms when healthy, up to the backoff
cap during a backend outage."""
FLUSH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds one writer flush (every ``apply`` of one batch) takes."""
BATCH_BUCKETS = (1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0)
"""Keys per writer batch."""
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Seconds one API request takes, routing to response."""

CIRCUIT_VALUES: Mapping[str, float] = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
"""``informer_mirror_circuit_state`` values; an unknown state reads as open (alert on > 0)."""

Clock = Callable[[], float]


class ComponentStates(Protocol):
    """What the scrape-time collector reads; the daemon implements it (the API's
    ``StatusProvider`` is the same Protocol). Every method may be called from any thread and
    must return quickly: copies of state, no I/O."""

    def reflector_states(self) -> Mapping[str, ReflectorState]:
        """Every informer's reflector snapshot, by resource name."""

    def store_sizes(self) -> Mapping[str, int]:
        """Objects in each informer's Store, by resource name."""

    def writer_state(self) -> WriterStatus | None:
        """The batch writer's snapshot, or None before the writer exists."""

    def backend_up(self) -> bool | None:
        """The latest backend ping's result; None while nothing has checked yet."""

    def degraded(self) -> Mapping[str, str]:
        """Resources that cannot be mirrored (the cluster does not serve them, or RBAC forbids
        list/watch), with why: they do not hold back readiness of the others."""

    def health_checks(self) -> Mapping[str, str | None]:
        """The health monitor's latest verdict per component (``reflector/pods``, ``writer``,
        ``backend``): None when healthy, else the problem. Empty before its first run."""


class BatchHistogram:
    """A histogram observed a batch of values at a time, exported like a prometheus_client
    ``Histogram`` without labels (``_bucket``, ``_count``, ``_sum``; no ``_created``).

    Why: the WorkQueue reports the keys of a whole writer batch at once, and a ``Histogram``
    takes two locks per observation. Measured per key of 500-key batches through ``add_many``,
    ``get_batch``, ``done_many`` and ``forget_many`` with the daemon's queue hooks: 2.7 us with
    a ``Histogram.observe`` per key and hook, 0.7 us with one call per batch into this (0.5 us
    with no metrics at all).
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        bounds = [float(b) for b in buckets]
        if not bounds or bounds != sorted(set(bounds)) or bounds[-1] == float("inf"):
            raise ValueError(f"{name}: buckets must be finite, distinct and ascending")
        self.name = name
        self._documentation = documentation
        self._bounds = bounds
        self._labels = [*map(floatToGoString, bounds), "+Inf"]
        self._counts = [0] * (len(bounds) + 1)  # per bucket; the last one is +Inf
        self._sum = 0.0
        self._lock = threading.Lock()
        registry.register(self)

    def observe(self, values: Iterable[float]) -> None:
        """Record each of ``values`` (a negative one, a clock's step back, counts as 0)."""
        bounds, find = self._bounds, bisect.bisect_left
        with self._lock:
            counts = self._counts
            total = 0.0
            for value in values:
                seconds = value if value > 0.0 else 0.0
                counts[find(bounds, seconds)] += 1  # le is inclusive: the first bound >= it
                total += seconds
            self._sum += total

    def describe(self) -> Iterator[Metric]:
        """The family with no samples: lets the registry refuse a duplicate name."""
        yield HistogramMetricFamily(self.name, self._documentation)

    def collect(self) -> Iterator[Metric]:
        """The cumulative buckets and the sum, read under the lock (one consistent snapshot)."""
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative: list[tuple[str, float]] = []
        running = 0
        for label, count in zip(self._labels, counts, strict=True):
            running += count
            cumulative.append((label, float(running)))
        yield HistogramMetricFamily(
            self.name, self._documentation, buckets=cumulative, sum_value=total
        )


class QueueHooks:
    """``informer.workqueue.QueueMetrics`` over the WorkQueue metrics."""

    __slots__ = ("_adds", "_depth", "_latency", "_retries", "_work")

    def __init__(self, metrics: MirrorMetrics) -> None:
        self._adds = metrics.queue_adds
        self._depth = metrics.queue_depth
        self._retries = metrics.queue_retries
        self._latency = metrics.queue_latency
        self._work = metrics.queue_work_duration

    def on_add(self, count: int) -> None:
        """``count`` keys became dirty."""
        self._adds.inc(count)

    def on_get(self, wait_seconds: Sequence[float]) -> None:
        """Keys were handed to a worker after waiting ``wait_seconds[i]`` each."""
        self._latency.observe(wait_seconds)

    def on_done(self, work_seconds: Sequence[float]) -> None:
        """A worker finished keys it held for ``work_seconds[i]`` each."""
        self._work.observe(work_seconds)

    def on_retry(self) -> None:
        """A key was re-added through the rate limiter."""
        self._retries.inc()

    def depth(self, depth: int) -> None:
        """The number of ready keys is now ``depth``."""
        self._depth.set(depth)


class WriterHooks:
    """``writer.metrics_hooks.WriterMetrics`` over the writer metrics."""

    __slots__ = ("_m",)

    def __init__(self, metrics: MirrorMetrics) -> None:
        self._m = metrics

    def on_flush(self, *, keys: int, seconds: float) -> None:
        """One batch of ``keys`` keys was flushed in ``seconds``."""
        self._m.writer_batch_size.observe(keys)
        self._m.writer_flush_duration.observe(max(seconds, 0.0))

    def on_written(self, *, resource: str, operation: str, count: int) -> None:
        """``count`` documents of ``resource`` were written by ``operation``."""
        if count > 0:
            self._m.writer_documents.labels(resource, operation).inc(count)

    def on_error(self, *, reason: str) -> None:
        """A write failed for ``reason`` (one of ``writer.metrics_hooks.ERROR_REASONS``)."""
        self._m.writer_errors.labels(reason).inc()


class MirrorMetrics:
    """Every pushed metric of the daemon, registered on ``registry``; hook factories on top."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = False) -> None:
        """``registry``: where to register (default: a new one of its own, so callers outside
        this module need not import prometheus_client); ``process``: also export the standard
        ``process_*``/``python_*`` metrics."""
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.informer_events = Counter(
            f"{NS}_informer_events_total",
            "Changes an informer delivered (watch events and relist differences; updates with "
            "an unchanged resourceVersion are not counted), by resource and event.",
            ["resource", "event"],
            registry=r,
        )
        self.queue_depth = Gauge(
            f"{NS}_workqueue_depth",
            "Keys ready in the WorkQueue, waiting for a writer.",
            registry=r,
        )
        self.queue_adds = Counter(
            f"{NS}_workqueue_adds_total",
            "Keys that became dirty (an add of an already dirty key coalesces, uncounted).",
            registry=r,
        )
        self.queue_retries = Counter(
            f"{NS}_workqueue_retries_total",
            "Keys re-added through the rate limiter after a failed write.",
            registry=r,
        )
        self.queue_latency = BatchHistogram(
            f"{NS}_workqueue_queue_duration_seconds",
            "Seconds a key waited in the WorkQueue before a writer took it.",
            registry=r,
            buckets=QUEUE_BUCKETS,
        )
        self.queue_work_duration = BatchHistogram(
            f"{NS}_workqueue_work_duration_seconds",
            "Seconds a writer held a key (read from the Store, write, done).",
            registry=r,
            buckets=QUEUE_BUCKETS,
        )
        self.writer_batch_size = Histogram(
            f"{NS}_writer_batch_keys",
            "Keys per writer batch.",
            registry=r,
            buckets=BATCH_BUCKETS,
        )
        self.writer_flush_duration = Histogram(
            f"{NS}_writer_flush_duration_seconds",
            "Seconds one writer batch took to flush to the backend.",
            registry=r,
            buckets=FLUSH_BUCKETS,
        )
        self.writer_documents = Counter(
            f"{NS}_writer_documents_written_total",
            "Documents written to the backend, by resource and operation (upsert, delete).",
            ["resource", "operation"],
            registry=r,
        )
        self.writer_errors = Counter(
            f"{NS}_writer_write_errors_total",
            "Failed writes by reason (transient: retried; too_large, unencodable, rejected, "
            "no_uid: one document skipped; permanent, unknown_resource, internal).",
            ["reason"],
            registry=r,
        )
        self.api_request_duration = Histogram(
            f"{NS}_api_request_duration_seconds",
            "Seconds to serve an API request, by endpoint (the route template, never the "
            "concrete path; 'unmatched' when no route matched) and HTTP status.",
            ["endpoint", "status"],
            registry=r,
            buckets=REQUEST_BUCKETS,
        )
        self.build_info = Gauge(
            f"{NS}_build_info",
            "Always 1; the version label says what runs.",
            ["version"],
            registry=r,
        )
        self.build_info.labels(__version__).set(1)
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)

    def queue_hooks(self) -> QueueHooks:
        """Hooks for ``WorkQueue(metrics=...)``."""
        return QueueHooks(self)

    def writer_hooks(self) -> WriterHooks:
        """Hooks for the BatchWriter's ``metrics=``."""
        return WriterHooks(self)

    def informer_handler(self, resource: str) -> EventHandler:
        """An event handler for the informer of ``resource`` that counts the changes it
        delivers (label children bound once: a call is one increment)."""
        added = self.informer_events.labels(resource, "added")
        updated = self.informer_events.labels(resource, "updated")
        deleted = self.informer_events.labels(resource, "deleted")

        def on_add(_obj: StoredObject) -> None:
            added.inc()

        def on_update(_old: StoredObject, _new: StoredObject) -> None:
            updated.inc()

        def on_delete(_obj: StoredObject) -> None:
            deleted.inc()

        return EventHandler(on_add=on_add, on_update=on_update, on_delete=on_delete)

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        """One API request to route template ``endpoint`` answered ``status`` in ``seconds``."""
        self.api_request_duration.labels(endpoint, str(status)).observe(max(seconds, 0.0))

    def register_state(
        self,
        states: ComponentStates,
        *,
        transform_failures: Callable[[], Mapping[str, Mapping[str, int]]] | None = None,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> StateCollector:
        """Register (and return) the scrape-time collector reading ``states``;
        ``transform_failures`` is ``Registry.transform_failures``."""
        collector = StateCollector(
            states, transform_failures=transform_failures, clock=clock, wall_clock=wall_clock
        )
        self.registry.register(collector)
        return collector


def _counter(name: str, doc: str, labels: Sequence[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(f"{NS}_{name}", doc, labels=list(labels))


def _gauge(name: str, doc: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{NS}_{name}", doc, labels=list(labels))


_RES = ("resource",)

_REFLECTOR_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("events", "reflector_watch_events_total", "Watch events applied, bookmarks included."),
    (
        "malformed_events",
        "reflector_malformed_events_total",
        "Watch lines skipped as malformed (not JSON, no metadata or uid, unknown type).",
    ),
    (
        "dropped_events",
        "reflector_dropped_events_total",
        "Watch events the Store refused (the resourceVersion still advanced).",
    ),
    ("lists", "reflector_lists_total", "Complete lists applied."),
    ("relists", "reflector_relists_total", "Complete lists after the first one."),
    (
        "list_requests",
        "reflector_list_requests_total",
        "List HTTP requests (pages, fallbacks and retries included).",
    ),
    ("watch_requests", "reflector_watch_requests_total", "Watch HTTP requests."),
)
"""ReflectorState counters exported per resource: (attribute, metric name, help)."""


class StateCollector:
    """Metrics read from component state at scrape time (see the module docstring).

    ``clock`` is the monotonic clock components stamp times with; ``wall_clock`` turns such a
    stamp into the Unix time of a ``*_timestamp_seconds`` gauge.
    """

    def __init__(
        self,
        states: ComponentStates,
        *,
        transform_failures: Callable[[], Mapping[str, Mapping[str, int]]] | None = None,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self._states = states
        self._transform_failures = transform_failures
        self._clock = clock
        self._wall_clock = wall_clock
        self.errors = 0
        """Sections left out of a scrape because reading their state raised."""

    def _to_wall(self, monotonic_stamp: float) -> float:
        return self._wall_clock() - (self._clock() - monotonic_stamp)

    def collect(self) -> Iterator[Metric]:
        """Every state metric. A section whose state cannot be read is logged and left out of
        this scrape; the others are still exported, and ``collector_errors_total`` counts it."""
        sections: tuple[Callable[[], list[Metric]], ...] = (
            self._informers,
            self._writer,
            self._backend_and_health,
            self._transforms,
        )
        for section in sections:
            try:
                metrics = section()
            except Exception:  # one broken component must not blank the whole scrape
                self.errors += 1
                log.exception("metrics: reading state for %s failed", section.__name__)
                continue
            yield from metrics
        errors = _counter(
            "metrics_collector_errors_total",
            "Scrape-time state reads that raised (that section was left out of the scrape).",
        )
        errors.add_metric([], self.errors)
        yield errors

    def _informers(self) -> list[Metric]:
        states = self._states.reflector_states()
        sizes = self._states.store_sizes()
        degraded = self._states.degraded()
        synced = _gauge("informer_synced", "1 once the first full list is in the Store.", _RES)
        deg = _gauge(
            "informer_degraded",
            "1 when the resource cannot be mirrored (not served, or list/watch forbidden).",
            _RES,
        )
        objects = _gauge("store_objects", "Objects in the informer's Store (the cache).", _RES)
        failures = _gauge(
            "reflector_consecutive_failures",
            "Failed list/watch attempts since the last success (what the circuit counts).",
            _RES,
        )
        last_event = _gauge(
            "reflector_last_event_timestamp_seconds",
            "Unix time of the latest watch event or bookmark (absent before the first).",
            _RES,
        )
        counters = {attr: _counter(name, doc, _RES) for attr, name, doc in _REFLECTOR_COUNTERS}
        restarts = _counter(
            "reflector_watch_restarts_total",
            "Watches that ended and were reopened or led to a relist, by reason.",
            ("resource", "reason"),
        )
        circuit = _gauge(
            "circuit_state",
            "Circuit breaker per component (reflector/<resource>, writer): 0 closed, "
            "1 half-open, 2 open.",
            ("component",),
        )
        for name in sorted(set(states) | set(sizes) | set(degraded)):
            deg.add_metric([name], 1.0 if name in degraded else 0.0)
            if name in sizes:
                objects.add_metric([name], sizes[name])
            state = states.get(name)
            if state is None:
                continue
            synced.add_metric([name], 1.0 if state.synced else 0.0)
            failures.add_metric([name], state.failures)
            circuit.add_metric([f"reflector/{name}"], CIRCUIT_VALUES.get(state.circuit, 2.0))
            if state.last_event_at is not None:
                last_event.add_metric([name], self._to_wall(state.last_event_at))
            for attr, family in counters.items():
                family.add_metric([name], getattr(state, attr))
            for reason, count in sorted(state.watch_restarts.items()):
                restarts.add_metric([name, reason], count)
        writer = self._states.writer_state()
        if writer is not None:
            circuit.add_metric(["writer"], CIRCUIT_VALUES.get(writer.circuit, 2.0))
        return [synced, deg, objects, failures, last_event, *counters.values(), restarts, circuit]

    def _writer(self) -> list[Metric]:
        writer = self._states.writer_state()
        if writer is None:
            return []
        flushed = _gauge(
            "writer_first_full_sync_flushed",
            "1 once every synced informer's first full list is in the backend.",
        )
        flushed.add_metric([], 1.0 if writer.first_full_sync_flushed else 0.0)
        in_flight = _gauge("writer_keys_in_flight", "Keys held by writer threads right now.")
        in_flight.add_metric([], writer.in_flight)
        out: list[Metric] = [flushed, in_flight]
        if writer.last_flush_at is not None:
            last = _gauge(
                "writer_last_flush_timestamp_seconds",
                "Unix time of the writer's latest successful flush.",
            )
            last.add_metric([], self._to_wall(writer.last_flush_at))
            out.append(last)
        return out

    def _backend_and_health(self) -> list[Metric]:
        out: list[Metric] = []
        up = self._states.backend_up()
        if up is not None:
            gauge = _gauge("backend_up", "1 when the latest backend ping succeeded.")
            gauge.add_metric([], 1.0 if up else 0.0)
            out.append(gauge)
        healthy = _gauge(
            "health_check_ok",
            "The health monitor's latest verdict per component: 1 healthy, 0 not.",
            ("component",),
        )
        for component, problem in sorted(self._states.health_checks().items()):
            healthy.add_metric([component], 1.0 if problem is None else 0.0)
        out.append(healthy)
        return out

    def _transforms(self) -> list[Metric]:
        if self._transform_failures is None:
            return []
        family = _counter(
            "registry_transform_failures_total",
            "Objects whose transformer raised (stored as a minimal document with "
            "transformError), by resource and exception type.",
            ("resource", "reason"),
        )
        for resource, by_type in sorted(self._transform_failures().items()):
            for reason, count in sorted(by_type.items()):
                family.add_metric([resource, reason], count)
        return [family]
