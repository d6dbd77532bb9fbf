"""Fakes at the writer's own seams: a Backend wrapper that counts and injects outages, a resource
source (what an Informer offers the writer), a metrics recorder, and fast retry policies."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from informer_mirror.backends import (
    ApplyResult,
    Backend,
    Delete,
    Upsert,
)
from informer_mirror.errors import TransientBackendError
from informer_mirror.informer.informer import Informer, InformerSet
from informer_mirror.informer.store import Store
from informer_mirror.informer.workqueue import WorkQueue
from informer_mirror.kube.client import KubeClient
from informer_mirror.kube.listwatch import ApiResource, KubeListerWatcher
from informer_mirror.registry import ResourceSpec
from informer_mirror.retry import BackoffPolicy, BreakerPolicy
from informer_mirror.settings import WriterSettings
from informer_mirror.writer import BatchWriter
from tests.backends.support import CLUSTER, REGISTRY, BackendProxy
from tests.helpers import wait_until

FAST_BACKOFF = BackoffPolicy(initial=0.001, cap=0.01)
FAST_BREAKER = BreakerPolicy(max_failures=3, base_delay=0.01, max_delay=0.05)
FAST_SETTINGS = WriterSettings(batch_size=50, flush_interval=0.01, drain_timeout=10.0)


class FaultyBackend(BackendProxy):
    """A real backend behind a switch: while ``down`` is set every call fails transiently.
    Counts what reaches the real backend, per resource and operation."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.down = threading.Event()
        self._lock = threading.Lock()
        self.sent: Counter[tuple[str, str]] = Counter()
        self.failures = 0
        self.apply_calls = 0

    def before(self, operation: str) -> None:
        if self.down.is_set():
            with self._lock:
                self.failures += 1
            raise TransientBackendError("injected outage")

    def written(self, operation: str) -> int:
        """Documents sent to the real backend by ``operation`` (upsert, delete), all resources."""
        with self._lock:
            return sum(n for (_, op), n in self.sent.items() if op == operation)

    def describe(self) -> str:
        return f"faulty {self.inner.describe()}"

    def apply(
        self, spec: ResourceSpec, upserts: Sequence[Upsert], deletes: Sequence[Delete]
    ) -> ApplyResult:
        self.before("write")
        with self._lock:
            self.apply_calls += 1
            self.sent[(spec.name, "upsert")] += len(upserts)
            self.sent[(spec.name, "delete")] += len(deletes)
        return self.inner.apply(spec, upserts, deletes)


class Source:
    """What the writer reads from an Informer: its Store and whether it has synced."""

    def __init__(self, store: Store, *, synced: bool = False) -> None:
        self.store = store
        self.has_synced = synced


class RecordingMetrics:
    """A WriterMetrics that remembers every call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.flushes: list[int] = []
        self.written: Counter[tuple[str, str]] = Counter()
        self.errors: Counter[str] = Counter()

    def on_flush(self, *, keys: int, seconds: float) -> None:
        assert seconds >= 0
        with self._lock:
            self.flushes.append(keys)

    def on_written(self, *, resource: str, operation: str, count: int) -> None:
        with self._lock:
            self.written[(resource, operation)] += count

    def on_error(self, *, reason: str) -> None:
        with self._lock:
            self.errors[reason] += 1


def make_writer(
    backend: Backend,
    sources: dict[str, Source],
    queue: WorkQueue[Any],
    *,
    specs: Iterable[ResourceSpec] | None = None,
    **kw: Any,
) -> BatchWriter:
    """A BatchWriter with fast retries and short batches, over ``sources``' resources."""
    options: dict[str, Any] = {
        "settings": FAST_SETTINGS,
        "backoff": FAST_BACKOFF,
        "breaker": FAST_BREAKER,
    }
    options.update(kw)
    return BatchWriter(
        backend=backend,
        queue=queue,
        specs=specs if specs is not None else [REGISTRY[name] for name in sources],
        sources=sources,
        cluster=CLUSTER,
        **options,
    )


class Mirror:
    """One life of the daemon's pipeline (informers, work queue, writer) over real HTTP,
    writing into ``backend`` behind a :class:`FaultyBackend`. ``informer_options`` go to every
    Informer (reflector options, backoff policy)."""

    def __init__(
        self, kubeconfig: Path, backend: Backend, resources: Sequence[str], **informer_options: Any
    ) -> None:
        self.client = KubeClient.from_kubeconfig(kubeconfig)
        self.queue: WorkQueue[Any] = WorkQueue(name="mirror")
        self.backend = FaultyBackend(backend)
        self.informers = InformerSet(
            Informer(
                name=name,
                lister_watcher=KubeListerWatcher(
                    self.client, ApiResource.from_kind(REGISTRY[name].kind_info)
                ),
                queue=self.queue,
                transform=REGISTRY.transform_for(name),
                resource_version="",  # the backend may hold state: never list at "0" (pitfall 3)
                **informer_options,
            )
            for name in resources
        )
        sources = {informer.name: informer for informer in self.informers}
        self.writer = make_writer(self.backend, sources, self.queue)  # type: ignore[arg-type]

    def start(self) -> Mirror:
        self.writer.start()
        self.informers.start()
        return self

    def stop(self, *, drain_timeout: float = 10) -> bool:
        """Stop; ``drain_timeout=0`` is a crash (what was queued is not written)."""
        informers_ended = self.informers.stop(timeout=10)
        drained = self.writer.stop(drain_timeout=drain_timeout)
        self.client.close()
        return informers_ended and drained

    def wait_flushed(self) -> None:
        """Ready, as /readyz judges it: every informer synced, the first full sync flushed."""
        wait_until(
            lambda: self.informers.has_synced and self.writer.first_full_sync_flushed, timeout=20
        )
