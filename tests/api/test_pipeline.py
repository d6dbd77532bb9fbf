"""The API and metrics over the real pipeline: simulated cluster -> Informer -> WorkQueue ->
BatchWriter -> SQLite -> the API in waitress, all over real HTTP, wired as the daemon wires them
(with the daemon's StatusProvider, ``informer_mirror.status.MirrorStatus``)."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from informer_mirror.api import ApiServer, create_app
from informer_mirror.backends.sqlite import SqliteBackend
from informer_mirror.informer.informer import Informer
from informer_mirror.informer.workqueue import WorkQueue
from informer_mirror.kube import ApiResource, KubeClient, KubeListerWatcher
from informer_mirror.metrics import MirrorMetrics
from informer_mirror.registry import Registry, build_registry
from informer_mirror.settings import Settings, WriterSettings
from informer_mirror.sim import SimHandle
from informer_mirror.status import MirrorStatus
from informer_mirror.writer import BatchWriter
from tests.helpers import pod_obj, wait_until


def get(server: ApiServer, path: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        ctype = response.getheader("Content-Type", "")
        return response.status, json.loads(body) if "json" in ctype else body.decode()
    finally:
        conn.close()


def test_objects_of_the_cluster_are_served_by_the_api_and_counted_in_metrics(
    sim: SimHandle, tmp_path: Path
) -> None:
    settings = Settings()
    full: Registry = build_registry(settings)
    registry = Registry([full["pods"]], cluster=full.cluster)
    spec = registry["pods"]
    sim.state.create("namespaces", {"metadata": {"name": "default"}})
    for name in ("web-a", "web-b", "db-a"):
        sim.state.create("pods", pod_obj(name, app=name.split("-")[0]))

    metrics = MirrorMetrics(CollectorRegistry())
    client = KubeClient.from_kubeconfig(sim.write_kubeconfig(tmp_path / "kubeconfig"))
    backend = SqliteBackend(tmp_path / "mirror.db", cluster=registry.cluster)
    queue: WorkQueue[Any] = WorkQueue(name="mirror", metrics=metrics.queue_hooks())
    informer = Informer(
        name="pods",
        lister_watcher=KubeListerWatcher(client, ApiResource.from_kind(spec.kind_info)),
        queue=queue,
        transform=registry.transform_for("pods"),
    )
    informer.add_event_handler(metrics.informer_handler("pods"))
    writer = BatchWriter(
        backend=backend,
        queue=queue,
        specs=registry,
        sources={"pods": informer},
        cluster=registry.cluster,
        settings=WriterSettings(flush_interval=0.01),
        metrics=metrics.writer_hooks(),
    )
    status = MirrorStatus({"pods": informer}, writer)
    metrics.register_state(status, transform_failures=registry.transform_failures)
    app = create_app(registry=registry, backend=backend, status=status, metrics=metrics)
    server = ApiServer(app, port=0)
    try:
        server.start()
        assert get(server, "/readyz")[0] == 503
        writer.start()
        informer.start()
        wait_until(lambda: get(server, "/readyz")[0] == 200, timeout=10)

        code, page = get(server, "/api/v1/pods?sort=name")
        assert code == 200 and [i["name"] for i in page["items"]] == ["db-a", "web-a", "web-b"]
        uid = sim.state.get("pods", "default", "web-a")["metadata"]["uid"]
        assert get(server, f"/api/v1/pods/{uid}")[1]["name"] == "web-a"

        sim.state.delete("pods", "default", "db-a")
        wait_until(lambda: get(server, "/api/v1/pods")[1]["total"] == 2, timeout=10)
        assert get(server, "/api/v1/pods?labelSelector=app%3Dweb")[1]["total"] == 2

        code, text = get(server, "/metrics")
        assert code == 200
        for line in (
            'informer_mirror_informer_synced{resource="pods"} 1.0',
            'informer_mirror_store_objects{resource="pods"} 2.0',
            'informer_mirror_informer_events_total{event="added",resource="pods"} 3.0',
            'informer_mirror_informer_events_total{event="deleted",resource="pods"} 1.0',
            "informer_mirror_writer_documents_written_total"
            '{operation="upsert",resource="pods"} 3.0',
            "informer_mirror_writer_first_full_sync_flushed 1.0",
        ):
            assert line in text, line
        assert 'informer_mirror_circuit_state{component="writer"} 0.0' in text
        status_body = get(server, "/api/v1/status")[1]
        assert status_body["informers"]["pods"]["synced"] is True
        assert status_body["writer"]["firstFullSyncFlushed"] is True
    finally:
        server.stop()
        informer.stop()
        assert informer.join(10)
        writer.stop(drain_timeout=5)
        client.close()
