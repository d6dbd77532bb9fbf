"""The mirror's Pod pipeline for the benchmarks, wired as ``informer-mirror run`` wires it.

``KubeListerWatcher`` (the registry's decode schema) -> ``Informer`` (the registry's transform into
the ``Store``) -> one ``WorkQueue`` -> ``BatchWriter`` (default ``writer:`` settings) -> backend,
with the daemon's Prometheus hooks on the queue, the writer and the informer's events (on a
registry of their own), so a benchmark pays what the daemon pays per object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from informer_mirror.backends import Backend
from informer_mirror.informer.informer import Informer
from informer_mirror.informer.workqueue import WorkQueue
from informer_mirror.kube import ApiResource, KubeClient, KubeListerWatcher
from informer_mirror.metrics import MirrorMetrics
from informer_mirror.registry import ResourceSpec, build_registry
from informer_mirror.settings import ClusterSettings, Settings
from informer_mirror.writer import BatchWriter

CLUSTER = "bench"


@dataclass(frozen=True, slots=True)
class Pipeline:
    """One mirror of the Pods of a cluster (nothing started yet)."""

    spec: ResourceSpec
    informer: Informer
    queue: WorkQueue[Any]
    writer: BatchWriter
    metrics: MirrorMetrics


def pod_pipeline(client: KubeClient, backend: Backend) -> Pipeline:
    """The Pods of ``client``'s cluster mirrored into ``backend``: start the writer, then the
    informer (as the daemon does); the first list is a consistent read (``""``)."""
    registry = build_registry(Settings(cluster=ClusterSettings(name=CLUSTER)))
    spec = registry["pods"]
    metrics = MirrorMetrics()
    queue: WorkQueue[Any] = WorkQueue(name="mirror", metrics=metrics.queue_hooks())
    informer = Informer(
        name="pods",
        lister_watcher=KubeListerWatcher(
            client, ApiResource.from_kind(spec.kind_info), schema=spec.decode_schema
        ),
        queue=queue,
        transform=registry.transform_for("pods"),
        resource_version="",
    )
    informer.add_event_handler(metrics.informer_handler("pods"))
    writer = BatchWriter(
        backend=backend,
        queue=queue,
        specs=[spec],
        sources={"pods": informer},
        cluster=CLUSTER,
        metrics=metrics.writer_hooks(),
    )
    return Pipeline(spec=spec, informer=informer, queue=queue, writer=writer, metrics=metrics)
