"""The composition root: builds every component from the settings, starts them, stops them in order.

Place in the data flow: all of it, wired once. ``informer-mirror run`` (and ``demo``) call
:func:`run_daemon` on the main thread, which owns the :class:`Daemon`: it builds, in this order
and with one log line per step, the registry, the Kubernetes client, the backend (retried a few
times while unreachable), the metrics, the WorkQueue, one ``components.ResourceInformers`` per
resource, the BatchWriter, the status provider, the health monitor and the API; then starts the
API (thread ``api``, and ``metrics`` with ``api.metrics_port``), the writer (``writer-N``), the
informers (``reflector/<resource>``, ``resync/<resource>``) and the monitor (``health``). The main
thread then reports progress to systemd (``STATUS=`` lines, ``READY=1`` once every resource that
is not degraded has synced and the writer has flushed the first full sync) until the stop event
is set (SIGTERM/SIGINT), and shuts down: ``STOPPING=1``, health monitor, informers, writer (queued
writes drained within ``writer.drain_timeout``), API, backend, Kubernetes client.

Start-up failures are exceptions with one clear message: ``ConfigError`` (exit 2) for the
configuration, ``StartupError`` (exit 1) for a missing kubeconfig, a backend still unreachable
after ``health.max_retries`` attempts, an API port in use. An API server that cannot be reached
is *not* fatal: the reflectors keep retrying with backoff, /readyz says why it is not ready, and
systemd's ``TimeoutStartSec`` bounds the wait for ``READY=1``. A resource the API server does not
serve (404) or forbids (403) is degraded: logged once, shown with the missing RBAC rule in
/status and /readyz, retried with backoff, and left out of readiness.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping

from informer_mirror import __version__
from informer_mirror.access import ObservedListerWatcher
from informer_mirror.api import ApiServer, create_app, create_metrics_app, readiness
from informer_mirror.backends import Backend
from informer_mirror.components import InformerSlot, ResourceInformers
from informer_mirror.health import HealthMonitor, watch_stall_after
from informer_mirror.informer.codec import DocumentCodec
from informer_mirror.informer.informer import Informer
from informer_mirror.informer.reflector_types import ReflectorOptions
from informer_mirror.informer.store import Store
from informer_mirror.informer.workqueue import WorkQueue
from informer_mirror.kube import ApiResource, KubeClient, KubeListerWatcher
from informer_mirror.metrics import MirrorMetrics
from informer_mirror.notify import Notifier, watchdog_ping_interval
from informer_mirror.registry import Registry, ResourceSpec, WatchScope, build_registry
from informer_mirror.settings import Settings
from informer_mirror.startup import (
    StartTimeoutExtender,
    connect_kube,
    listen,
    open_backend_with_retry,
)
from informer_mirror.status import MirrorStatus
from informer_mirror.writer import BatchWriter, breaker_policy

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.25
"""Seconds between two looks at the start-up progress (STATUS= lines, READY=1)."""
STATUS_INTERVAL = 2.0
"""Seconds between two looks once ready (STATUS= follows degraded resources)."""
STOP_JOIN_TIMEOUT = 10.0
"""Seconds allowed for the health monitor and the informers to end at shutdown."""

QueueKey = tuple[str, str]


def _queue_key(resource: str, key: str) -> QueueKey:
    return (resource, key)


class Daemon:
    """Every component of one informer-mirror process (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        stop: threading.Event,
        notifier: Notifier | None = None,
        reflector_options: ReflectorOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``stop``: set by a signal handler (or a test) to end :meth:`serve`; ``notifier``:
        sd_notify (default: from ``settings.runtime``)."""
        self.settings = settings
        self._stop = stop
        self._notifier = (
            notifier if notifier is not None else Notifier.from_runtime(settings.runtime)
        )
        self._reflector_options = reflector_options or ReflectorOptions()
        self._clock = clock
        self._started_at = clock()
        self.registry: Registry | None = None
        self.resources: dict[str, ResourceInformers] = {}
        self._codecs: dict[str, DocumentCodec] = {}  # per resource, shared by its namespaces
        self.metrics: MirrorMetrics | None = None
        self.status: MirrorStatus | None = None
        self.api: ApiServer | None = None
        self.monitor: HealthMonitor | None = None
        self._kube: KubeClient | None = None
        self._backend: Backend | None = None
        self._queue: WorkQueue[QueueKey] | None = None
        self._writer: BatchWriter | None = None
        self._metrics_server: ApiServer | None = None
        self._ready = False
        self._last_status = ""
        self._extender = StartTimeoutExtender(self._notifier, clock=clock)
        self._threads_started = False
        self._shut_down = False

    # -- start-up --------------------------------------------------------------------------------

    def start(self) -> bool:
        """Build and start everything. False if stop was requested meanwhile (then call
        :meth:`shutdown`). Raises ConfigError or StartupError; the caller shuts down then too."""
        s = self.settings
        # Before the first log line: a configuration error is then the only line printed.
        registry = build_registry(s)
        self.registry = registry
        log.info(
            "informer-mirror %s starting (config %s, cluster %s)",
            __version__,
            s.config_file or "built in",
            s.cluster.name,
        )
        log.info("registry: %d resources: %s", len(registry), ", ".join(registry.names))
        scopes = {spec.name: registry.scope(spec.name) for spec in registry}
        reflectors = sum(len(scope.namespaces) or 1 for scope in scopes.values())
        self._kube = connect_kube(s, pool_maxsize=max(32, reflectors + 8))
        opened = open_backend_with_retry(s, registry, self._stop)
        if opened is None:
            return False
        self._backend = backend = opened.backend
        populated = opened.populated
        log.info(
            "backend: %s ready (%d of %d resources hold documents)",
            backend.describe(),
            len(populated),
            len(registry),
        )
        self.metrics = metrics = MirrorMetrics(process=True)
        self._queue = WorkQueue(name="mirror", metrics=metrics.queue_hooks())
        for spec in registry:
            self.resources[spec.name] = self._resource_informers(
                spec, scopes[spec.name], populated=spec.name in populated
            )
        log.info("informers: %d resources, %d reflectors", len(self.resources), reflectors)
        self._writer = BatchWriter(
            backend=backend,
            queue=self._queue,
            specs=registry,
            sources=self.resources,
            cluster=registry.cluster,
            settings=s.writer,
            breaker=breaker_policy(s.health),
            metrics=metrics.writer_hooks(),
        )
        self.monitor = HealthMonitor(
            reflectors={name: group.slots for name, group in self.resources.items()},
            writer=self._writer,
            backend=backend,
            settings=s.health,
            stall_after=watch_stall_after(
                self._reflector_options.watch_timeout_max, s.health.interval
            ),
            notifier=self._notifier,
            watchdog_interval=watchdog_ping_interval(s.runtime),
            clock=self._clock,
        )
        self.status = MirrorStatus(
            self.resources, self._writer, degraded=self.degraded, health=self.monitor
        )
        metrics.register_state(
            self.status, transform_failures=registry.transform_failures, clock=self._clock
        )
        self._start_api(registry, backend, self.status, metrics)
        if self._stop.is_set():
            return False
        self._threads_started = True
        self._writer.start()
        log.info("writer: started (batches of up to %d keys)", s.writer.batch_size)
        for group in self.resources.values():
            group.start()
        self.monitor.start()
        self._notifier.status(f"syncing {len(registry)} resources")
        return True

    def _resource_informers(
        self, spec: ResourceSpec, scope: WatchScope, *, populated: bool
    ) -> ResourceInformers:
        # A backend that holds this resource already is state of unknown age: the first list is
        # then a consistent read (""), never "0", which may be older than the backend (pitfall 3).
        first_rv = "" if populated else None
        slots = [
            InformerSlot(
                name=spec.name if namespace is None else f"{spec.name}/{namespace}",
                namespace=namespace,
                build=functools.partial(self._build_informer, spec, scope, namespace),
                resource_version=first_rv,
            )
            for namespace in (scope.namespaces or (None,))
        ]
        return ResourceInformers(spec.name, slots)

    def _build_informer(
        self,
        spec: ResourceSpec,
        scope: WatchScope,
        namespace: str | None,
        store: Store | None,
        resource_version: str | None,
    ) -> tuple[Informer, ObservedListerWatcher]:
        """A new Informer for ``spec`` (in ``namespace``), over ``store`` when restarting."""
        assert self._kube is not None and self.registry is not None and self.metrics is not None
        name = spec.name if namespace is None else f"{spec.name}/{namespace}"
        observed = ObservedListerWatcher(
            KubeListerWatcher(
                self._kube,
                ApiResource.from_kind(spec.kind_info, namespace),
                label_selector=scope.label_selector,
                field_selector=scope.field_selector,
                schema=spec.decode_schema,
            ),
            name=name,
        )
        transform = self.registry.transform_for(spec.name)
        if store is None:  # the Stores of a resource's namespaces share one codec (~160 KiB)
            codec = self._codecs.setdefault(spec.name, DocumentCodec())
            store = Store(name=name, transform=transform, codec=codec)
        informer = Informer(
            name=name,
            lister_watcher=observed,
            queue=self._queue,
            store=store,
            transform=transform,
            resync_period=spec.resync_period or 0.0,
            reflector_options=self._reflector_options,
            breaker_policy=breaker_policy(self.settings.health),
            resource_version=resource_version,
            queue_key=functools.partial(_queue_key, spec.name),
            clock=self._clock,
        )
        informer.add_event_handler(self.metrics.informer_handler(spec.name))
        return informer, observed

    def _start_api(
        self, registry: Registry, backend: Backend, status: MirrorStatus, metrics: MirrorMetrics
    ) -> None:
        api = self.settings.api
        if not api.enabled:
            log.info("api: disabled (api.enabled is false)")
            return
        app = create_app(
            registry=registry,
            backend=backend,
            status=status,
            metrics=metrics,
            settings=api,
            clock=self._clock,
        )
        self.api = listen(ApiServer.from_settings(app, api), api.port)
        if api.metrics_port is not None:
            metrics_app = create_metrics_app(metrics=metrics, settings=api)
            server = ApiServer.from_settings(metrics_app, api, metrics_only=True)
            self._metrics_server = listen(server, api.metrics_port)

    # -- running ---------------------------------------------------------------------------------

    def degraded(self) -> Mapping[str, str]:
        """Resources the API server does not serve or forbids, with the server's reason."""
        return {
            name: reason
            for name, group in self.resources.items()
            if (reason := group.degraded_reason()) is not None
        }

    @property
    def ready(self) -> bool:
        """True once READY=1 was due (stays True)."""
        return self._ready

    def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Report progress to systemd until the stop event is set; ``on_ready`` is called once,
        when the daemon first becomes ready."""
        while True:
            if self._report() and on_ready is not None:
                on_ready()
            if self._stop.wait(STATUS_INTERVAL if self._ready else PROGRESS_INTERVAL):
                return

    def _report(self) -> bool:
        """Send STATUS= on change and READY=1 once; True when this call made it ready."""
        registry, status, writer = self.registry, self.status, self._writer
        if registry is None or status is None or writer is None:
            return False
        verdict = readiness(registry, status)
        degraded = sorted(verdict.degraded)
        note = f" ({len(degraded)} degraded: {', '.join(degraded)})" if degraded else ""
        became_ready = verdict.ready and not self._ready
        if verdict.ready:
            text = f"mirroring {len(registry) - len(degraded)} resources{note}"
        else:
            states = status.reflector_states()
            wanted = [name for name in registry.names if name not in verdict.degraded]
            synced = sum(1 for name in wanted if name in states and states[name].synced)
            w = writer.status()
            if synced < len(wanted):
                text = f"syncing: {synced}/{len(wanted)} resources listed{note}"
            else:
                text = f"writing the first full sync: {w.queue_depth + w.in_flight} keys to go"
            objects = sum(status.store_sizes().values())
            self._extender.observe((synced, objects, w.batches))
        if became_ready:
            self._ready = True
            log.info(
                "ready: %d resources synced and written in %.1f s%s",
                len(registry) - len(degraded),
                self._clock() - self._started_at,
                note,
            )
            self._notifier.ready(text)
        elif text != self._last_status:
            log.debug("status: %s", text)
            self._notifier.status(text)
        self._last_status = text
        return became_ready

    # -- shutdown --------------------------------------------------------------------------------

    def shutdown(self) -> bool:
        """Stop everything that was started, in order; True if every queued write landed and
        every thread ended. Safe after a failed or interrupted :meth:`start`, and twice."""
        if self._shut_down:
            return True
        self._shut_down = True
        if self._kube is None:
            return True  # nothing was started (the configuration or the kubeconfig failed)
        clean = True
        self._notifier.stopping("stopping: draining queued writes")
        log.info("stopping")
        if self.monitor is not None:
            self.monitor.stop()
            clean = self.monitor.join(STOP_JOIN_TIMEOUT) and clean
        deadline = time.monotonic() + STOP_JOIN_TIMEOUT
        for group in self.resources.values():
            group.stop()
        for group in self.resources.values():
            clean = group.join(max(0.0, deadline - time.monotonic())) and clean
        if self._threads_started:
            log.info("informers: stopped")
        if self._writer is not None:
            if self._threads_started:
                log.info("writer: draining (at most %g s)", self.settings.writer.drain_timeout)
            if self._writer.stop(close_backend=False):
                if self._threads_started:
                    log.info("writer: stopped, every queued write is in the backend")
            else:
                clean = False  # the writer logged what was left
        for server in (self.api, self._metrics_server):
            if server is not None:
                clean = server.stop() and clean
        if self._backend is not None:
            self._backend.close()
            log.info("backend: closed")
        self._kube.close()
        log.info("stopped%s", "" if clean else " (not cleanly: see the warnings above)")
        return clean


def run_daemon(
    settings: Settings, *, stop: threading.Event, notifier: Notifier | None = None
) -> int:
    """Run until ``stop`` is set; the exit code (0). Start-up errors propagate after whatever
    had started is stopped again. ``notifier``: sd_notify (default: from the settings)."""
    daemon = Daemon(settings, stop=stop, notifier=notifier)
    try:
        if daemon.start():
            daemon.serve()
    finally:
        daemon.shutdown()
    return 0
