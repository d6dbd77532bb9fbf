"""Prometheus metrics: the hooks against the real WorkQueue and Informer, the scrape-time
collector, request metrics, and the exposition checked by a real parser (and promtool)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from informer_mirror.api import create_app
from informer_mirror.backends.sqlite import SqliteBackend
from informer_mirror.informer.informer import Informer
from informer_mirror.informer.reflector_types import ReflectorState
from informer_mirror.informer.workqueue import QueueMetrics, WorkQueue
from informer_mirror.kinds import BUILTIN_BY_PLURAL
from informer_mirror.kube import ApiResource, KubeClient, KubeListerWatcher
from informer_mirror.metrics import QUEUE_BUCKETS, BatchHistogram, MirrorMetrics
from informer_mirror.registry import build_registry
from informer_mirror.settings import Settings
from informer_mirror.sim import SimHandle
from informer_mirror.writer.metrics_hooks import ERROR_REASONS, WriterMetrics, WriterStatus
from tests.api.fakes import FakeStatus, populate, reflector_state, writer_status
from tests.helpers import pod_obj, wait_until

ALLOWED_LABELS = {"resource", "event", "reason", "operation", "component", "endpoint", "status"}
ALLOWED_LABELS |= {"version"}  # build_info's single series


@pytest.fixture
def metrics() -> MirrorMetrics:
    return MirrorMetrics(CollectorRegistry())


@pytest.fixture
def client(tmp_path: Path, metrics: MirrorMetrics) -> Iterator[FlaskClient]:
    """The API over a small real SQLite mirror, timing requests into ``metrics``."""
    registry = build_registry(Settings())
    backend = SqliteBackend(tmp_path / "mirror.db", cluster=registry.cluster)
    populate(backend, registry)
    app = create_app(
        registry=registry,
        backend=backend,
        status=FakeStatus.all_synced(registry),
        metrics=metrics,
    )
    try:
        yield app.test_client()
    finally:
        backend.close()


def sample(metrics: MirrorMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def exposition(metrics: MirrorMetrics) -> str:
    return generate_latest(metrics.registry).decode()


# -- hooks ----------------------------------------------------------------------------------------


def test_queue_hooks_count_adds_depth_latency_work_and_retries_of_a_real_workqueue(
    metrics: MirrorMetrics,
) -> None:
    hooks: QueueMetrics = metrics.queue_hooks()
    queue: WorkQueue[str] = WorkQueue(name="mirror", metrics=hooks)
    for key in ("a", "b", "a", "c"):  # the second "a" coalesces
        queue.add(key)
    assert sample(metrics, "informer_mirror_workqueue_adds_total") == 3
    assert sample(metrics, "informer_mirror_workqueue_depth") == 3
    batch = queue.get_batch(10, timeout=0)
    assert sorted(batch) == ["a", "b", "c"]
    assert sample(metrics, "informer_mirror_workqueue_depth") == 0
    assert sample(metrics, "informer_mirror_workqueue_queue_duration_seconds_count") == 3
    queue.add_rate_limited("a")
    for key in batch:
        queue.done(key)
    assert sample(metrics, "informer_mirror_workqueue_work_duration_seconds_count") == 3
    assert sample(metrics, "informer_mirror_workqueue_retries_total") == 1
    queue.shut_down()


def histogram_samples(registry: CollectorRegistry, name: str) -> dict[tuple[str, str], float]:
    """``{(sample name, le): value}`` of one histogram as a scraper reads it (no _created)."""
    text = generate_latest(registry).decode()
    return {
        (s.name, s.labels.get("le", "")): s.value
        for family in text_string_to_metric_families(text)
        if family.name == name
        for s in family.samples
        if not s.name.endswith("_created")
    }


@given(
    st.lists(
        st.lists(
            st.one_of(
                st.sampled_from([*QUEUE_BUCKETS, 0.0, -1.0]),  # on a bound: le is inclusive
                st.floats(min_value=-1.0, max_value=100.0),
            ),
            max_size=20,
        ),
        max_size=5,
    )
)
def test_a_batch_histogram_exports_what_a_prometheus_histogram_of_the_same_values_does(
    batches: list[list[float]],
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    batch = BatchHistogram("d_seconds", "Doc.", buckets=QUEUE_BUCKETS, registry=ours)
    reference = Histogram("d_seconds", "Doc.", buckets=QUEUE_BUCKETS, registry=theirs)
    for values in batches:
        batch.observe(values)
        for value in values:
            reference.observe(max(value, 0.0))
    got, want = histogram_samples(ours, "d_seconds"), histogram_samples(theirs, "d_seconds")
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key


def test_a_batch_histogram_refuses_bad_buckets_and_a_name_already_registered() -> None:
    registry = CollectorRegistry()
    for buckets in ([], [0.5, 0.1], [0.1, 0.1], [0.1, float("inf")]):
        with pytest.raises(ValueError, match="buckets"):
            BatchHistogram("x_seconds", "Doc.", buckets=buckets, registry=registry)
    BatchHistogram("x_seconds", "Doc.", buckets=[0.1], registry=registry)
    with pytest.raises(ValueError, match="Duplicated"):
        BatchHistogram("x_seconds", "Doc.", buckets=[0.1], registry=registry)


def test_writer_hooks_record_batches_flushes_documents_and_errors(metrics: MirrorMetrics) -> None:
    hooks: WriterMetrics = metrics.writer_hooks()
    hooks.on_flush(keys=120, seconds=0.04)
    hooks.on_flush(keys=3, seconds=0.002)
    hooks.on_written(resource="pods", operation="upsert", count=100)
    hooks.on_written(resource="pods", operation="delete", count=3)
    hooks.on_written(resource="nodes", operation="delete", count=0)
    for reason in ERROR_REASONS:
        hooks.on_error(reason=reason)
    assert sample(metrics, "informer_mirror_writer_batch_keys_count") == 2
    assert sample(metrics, "informer_mirror_writer_batch_keys_sum") == 123
    assert sample(metrics, "informer_mirror_writer_batch_keys_bucket", le="100.0") == 1
    assert sample(metrics, "informer_mirror_writer_flush_duration_seconds_count") == 2
    written = "informer_mirror_writer_documents_written_total"
    assert sample(metrics, written, resource="pods", operation="upsert") == 100
    assert sample(metrics, written, resource="pods", operation="delete") == 3
    assert sample(metrics, written, resource="nodes", operation="delete") is None
    for reason in ERROR_REASONS:
        assert sample(metrics, "informer_mirror_writer_write_errors_total", reason=reason) == 1


def test_the_informer_handler_and_queue_hooks_count_a_real_informer_over_http(
    metrics: MirrorMetrics, sim: SimHandle, tmp_path: Path
) -> None:
    sim.state.create("namespaces", {"metadata": {"name": "default"}})
    for name in ("a", "b", "c"):
        sim.state.create("pods", pod_obj(name))
    client = KubeClient.from_kubeconfig(sim.write_kubeconfig(tmp_path / "kc"))
    queue: WorkQueue[Any] = WorkQueue(name="mirror", metrics=metrics.queue_hooks())
    informer = Informer(
        name="pods",
        lister_watcher=KubeListerWatcher(client, ApiResource.from_kind(BUILTIN_BY_PLURAL["pods"])),
        queue=queue,
    )
    informer.add_event_handler(metrics.informer_handler("pods"))
    status = FakeStatus(writer=None)
    metrics.register_state(status)
    events = "informer_mirror_informer_events_total"
    try:
        informer.start()
        assert informer.wait_for_sync(10)
        status.states = {"pods": informer.state()}
        status.sizes = {"pods": len(informer.store)}
        assert sample(metrics, events, resource="pods", event="added") == 3
        assert sample(metrics, "informer_mirror_workqueue_adds_total") == 3
        pod = sim.state.get("pods", "default", "a")
        pod["metadata"]["labels"] = {"touched": "yes"}
        sim.state.update("pods", pod)
        sim.state.delete("pods", "default", "b")
        wait_until(lambda: sample(metrics, events, resource="pods", event="deleted") == 1)
        wait_until(lambda: sample(metrics, events, resource="pods", event="updated") == 1)
        status.states = {"pods": informer.state()}
        status.sizes = {"pods": len(informer.store)}
        assert sample(metrics, "informer_mirror_informer_synced", resource="pods") == 1
        assert sample(metrics, "informer_mirror_store_objects", resource="pods") == 2
        assert sample(metrics, "informer_mirror_reflector_lists_total", resource="pods") == 1
        assert sample(metrics, "informer_mirror_reflector_watch_events_total", resource="pods")
    finally:
        informer.stop()
        assert informer.join(10)
        queue.shut_down()
        client.close()


# -- the scrape-time collector ---------------------------------------------------------------------


class ExplodingStatus(FakeStatus):
    """A provider whose reflector states cannot be read."""

    def reflector_states(self) -> Mapping[str, ReflectorState]:
        raise RuntimeError("informer state unavailable")


def test_state_metrics_are_read_from_the_components_at_scrape_time(
    metrics: MirrorMetrics,
) -> None:
    status = FakeStatus(
        states={
            "pods": reflector_state(
                "pods",
                synced=True,
                failures=2,
                circuit="half_open",
                last_event_at=990.0,
                relists=3,
                lists=4,
                watch_restarts={"expired": 2, "closed": 5},
            ),
            "nodes": reflector_state("nodes", synced=False, last_event_at=None, circuit="open"),
        },
        sizes={"pods": 35, "nodes": 3},
        writer=writer_status(circuit="closed", in_flight=7, last_flush_at=999.0),
        up=True,
        degraded_resources={"ingresses": "forbidden"},
        checks={"writer": None, "reflector/nodes": "circuit open"},
    )
    metrics.register_state(
        status,
        transform_failures=lambda: {"pods": {"KeyError": 2}},
        clock=lambda: 1000.0,
        wall_clock=lambda: 1_700_000_000.0,
    )

    def gauge(name: str, **labels: str) -> float | None:
        return sample(metrics, f"informer_mirror_{name}", **labels)

    assert gauge("informer_synced", resource="pods") == 1
    assert gauge("informer_synced", resource="nodes") == 0
    assert gauge("informer_degraded", resource="ingresses") == 1
    assert gauge("informer_degraded", resource="pods") == 0
    assert gauge("store_objects", resource="pods") == 35
    assert gauge("reflector_consecutive_failures", resource="pods") == 2
    assert gauge("circuit_state", component="reflector/pods") == 1
    assert gauge("circuit_state", component="reflector/nodes") == 2
    assert gauge("circuit_state", component="writer") == 0
    assert gauge("reflector_last_event_timestamp_seconds", resource="pods") == 1_699_999_990.0
    assert gauge("reflector_last_event_timestamp_seconds", resource="nodes") is None
    assert gauge("reflector_relists_total", resource="pods") == 3
    assert gauge("reflector_lists_total", resource="pods") == 4
    assert gauge("reflector_watch_restarts_total", resource="pods", reason="expired") == 2
    assert gauge("reflector_watch_restarts_total", resource="pods", reason="closed") == 5
    assert gauge("writer_first_full_sync_flushed") == 1
    assert gauge("writer_keys_in_flight") == 7
    assert gauge("writer_last_flush_timestamp_seconds") == 1_699_999_999.0
    assert gauge("backend_up") == 1
    assert gauge("health_check_ok", component="writer") == 1
    assert gauge("health_check_ok", component="reflector/nodes") == 0
    assert gauge("registry_transform_failures_total", resource="pods", reason="KeyError") == 2
    # state changes show at the next scrape: nothing was pushed
    status.up = False
    status.states["nodes"] = reflector_state("nodes", synced=True)
    assert gauge("backend_up") == 0
    assert gauge("informer_synced", resource="nodes") == 1


def test_a_component_whose_state_cannot_be_read_does_not_blank_the_scrape(
    metrics: MirrorMetrics,
) -> None:
    collector = metrics.register_state(ExplodingStatus(up=True))
    text = exposition(metrics)
    assert "informer_mirror_backend_up 1.0" in text
    assert "informer_mirror_informer_synced" not in text
    assert collector.errors == 1
    assert "informer_mirror_metrics_collector_errors_total 1.0" in text


def test_unknown_state_yields_no_series_rather_than_made_up_values(metrics: MirrorMetrics) -> None:
    metrics.register_state(FakeStatus(writer=None, up=None))
    text = exposition(metrics)
    for absent in ("informer_mirror_backend_up ", "writer_first_full_sync_flushed "):
        assert absent not in text


# -- request metrics -------------------------------------------------------------------------------


def test_api_requests_are_timed_by_route_template_and_status(
    client: FlaskClient, metrics: MirrorMetrics
) -> None:
    assert client.get("/api/v1/pods/pod-01").status_code == 200
    assert client.get("/api/v1/pods/pod-02").status_code == 200
    assert client.get("/api/v1/pods/nope").status_code == 404
    assert client.get("/api/v1/pods?limit=0").status_code == 400
    assert client.get("/no/such/thing").status_code == 404
    count = "informer_mirror_api_request_duration_seconds_count"
    template = "/api/v1/pods/<uid>"
    assert sample(metrics, count, endpoint=template, status="200") == 2
    assert sample(metrics, count, endpoint=template, status="404") == 1
    assert sample(metrics, count, endpoint="/api/v1/pods", status="400") == 1
    assert sample(metrics, count, endpoint="unmatched", status="404") == 1
    assert "pod-01" not in exposition(metrics) and "/no/such" not in exposition(metrics)


# -- the exposition --------------------------------------------------------------------------------


@pytest.fixture
def busy_metrics(metrics: MirrorMetrics, client: FlaskClient) -> Iterator[MirrorMetrics]:
    """Metrics with a sample in every family: hooks called, state registered, requests made."""
    queue: WorkQueue[str] = WorkQueue(name="mirror", metrics=metrics.queue_hooks())
    queue.add("x")
    for key in queue.get_batch(1, timeout=0):
        queue.add_rate_limited(key)
        queue.done(key)
    hooks = metrics.writer_hooks()
    hooks.on_flush(keys=1, seconds=0.01)
    hooks.on_written(resource="pods", operation="upsert", count=1)
    hooks.on_error(reason="transient")
    handler = metrics.informer_handler("pods")
    assert handler.on_add is not None
    status = FakeStatus(
        states={"pods": reflector_state("pods", watch_restarts={"closed": 1})},
        sizes={"pods": 1},
        degraded_resources={"ingresses": "forbidden"},
        checks={"writer": None},
    )
    metrics.register_state(status, transform_failures=lambda: {"pods": {"KeyError": 1}})
    client.get("/api/v1/pods")
    yield metrics
    queue.shut_down()


def test_the_exposition_parses_and_follows_the_naming_and_label_rules(
    busy_metrics: MirrorMetrics,
) -> None:
    families = list(text_string_to_metric_families(exposition(busy_metrics)))
    names = {f.name for f in families}
    assert len(names) >= 30
    for family in families:
        assert family.name.startswith("informer_mirror_"), family.name
        if family.type == "counter":
            assert any(s.name.endswith("_total") for s in family.samples), family.name
        for s in family.samples:
            assert set(s.labels) - {"le"} <= ALLOWED_LABELS, (s.name, s.labels)
            assert not {"namespace", "name", "uid"} & set(s.labels)
        assert family.documentation, family.name
    # prometheus_client adds a "<name>_created" gauge per counter/histogram in this format
    duration_families = [n for n in names if "duration" in n and not n.endswith("_created")]
    assert duration_families and all(n.endswith("_seconds") for n in duration_families)


def test_the_process_collectors_are_optional(metrics: MirrorMetrics) -> None:
    assert "process_" not in exposition(metrics)
    with_process = MirrorMetrics(CollectorRegistry(), process=True)
    text = exposition(with_process)
    assert "process_cpu_seconds_total" in text or "python_info" in text


def test_the_exposition_passes_promtool_check_metrics(busy_metrics: MirrorMetrics) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip(
            "promtool is not on PATH (Debian: apt-get install prometheus); "
            "the exposition is still checked by prometheus_client's parser above"
        )
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition(busy_metrics),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_writer_status_is_what_the_collector_reads() -> None:
    # the collector and /api/v1/status read these fields of the writer's own snapshot type
    fields = set(WriterStatus.__dataclass_fields__)
    assert {"queue_depth", "in_flight", "last_flush_at", "circuit"} <= fields
    assert "first_full_sync_flushed" in fields
