"""The API's own endpoints: resources, status, health, stats, probes and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from informer_mirror.informer.reflector_types import Phase
from informer_mirror.registry import Registry
from tests.api.conftest import NOW
from tests.api.fakes import SEARCH_NAMES, FakeStatus, reflector_state, writer_status


def get(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


# -- /api/v1/resources ----------------------------------------------------------------------------


def test_resources_lists_every_registered_resource_with_count_and_sync_state(
    client: FlaskClient, registry: Registry, status: FakeStatus
) -> None:
    status.states["events"] = reflector_state("events", synced=False, phase=Phase.LISTING)
    status.degraded_resources["ingresses"] = "forbidden: list ingresses.networking.k8s.io"
    body = get(client, "/api/v1/resources")
    assert body["total"] == len(registry) == len(body["items"])
    by_name = {item["name"]: item for item in body["items"]}
    assert list(by_name) == list(registry.names)
    assert by_name["pods"] == {
        "name": "pods",
        "apiVersion": "v1",
        "kind": "Pod",
        "namespaced": True,
        "icon": registry["pods"].icon,
        "count": 30 + len(SEARCH_NAMES),
        "synced": True,
        "phase": "watching",
        "degraded": None,
    }
    assert by_name["deployments"]["apiVersion"] == "apps/v1"
    assert by_name["nodes"]["namespaced"] is False
    assert (by_name["events"]["synced"], by_name["events"]["phase"]) == (False, "listing")
    assert by_name["ingresses"]["degraded"].startswith("forbidden")


# -- /readyz and /healthz ------------------------------------------------------------------------


def test_readyz_is_200_when_every_informer_synced_and_the_first_sync_is_flushed(
    client: FlaskClient,
) -> None:
    assert get(client, "/readyz") == {"ready": True, "reasons": [], "degraded": {}}


def test_readyz_is_503_with_a_reason_per_unsynced_informer(
    client: FlaskClient, status: FakeStatus
) -> None:
    status.states["pods"] = reflector_state(
        "pods", synced=False, phase=Phase.BACKING_OFF, last_error="KubeServerError: 500"
    )
    del status.states["nodes"]
    body = get(client, "/readyz", status=503)
    assert body["ready"] is False
    assert body["reasons"] == [
        "nodes: informer not started",
        "pods: not synced yet (backing-off); last error: KubeServerError: 500",
    ]


def test_readyz_waits_for_the_writer_to_flush_the_first_full_sync(
    client: FlaskClient, status: FakeStatus
) -> None:
    status.writer = writer_status(first_full_sync_flushed=False)
    body = get(client, "/readyz", status=503)
    assert body["reasons"] == ["writer: first full sync not flushed to the backend yet"]
    status.writer = None
    assert get(client, "/readyz", status=503)["reasons"] == ["writer: not started"]


def test_a_degraded_resource_does_not_hold_back_readiness_of_the_others(
    client: FlaskClient, status: FakeStatus
) -> None:
    reason = "forbidden: the credentials may not list ingresses (networking.k8s.io)"
    status.states["ingresses"] = reflector_state("ingresses", synced=False, failures=7)
    status.degraded_resources["ingresses"] = reason
    body = get(client, "/readyz")
    assert body == {"ready": True, "reasons": [], "degraded": {"ingresses": reason}}


def test_healthz_only_says_the_process_answers(client: FlaskClient, status: FakeStatus) -> None:
    status.up = False
    status.writer = None
    assert get(client, "/healthz") == {"status": "ok"}


# -- /api/v1/health ------------------------------------------------------------------------------


def test_health_is_healthy_when_nothing_is_wrong(client: FlaskClient) -> None:
    assert get(client, "/api/v1/health") == {"status": "healthy", "ready": True, "problems": []}


def test_health_is_degraded_by_an_open_reflector_circuit_or_a_degraded_resource(
    client: FlaskClient, status: FakeStatus
) -> None:
    status.states["pods"] = reflector_state("pods", circuit="open")
    status.degraded_resources["ingresses"] = "not served by this cluster"
    body = get(client, "/api/v1/health")
    assert body["status"] == "degraded"
    assert body["problems"] == [
        "ingresses: degraded: not served by this cluster",
        "pods: circuit open",
    ]


@pytest.mark.parametrize(
    "breakage",
    ["backend down", "writer circuit open", "health monitor says the writer stalled"],
)
def test_health_is_unhealthy_503_when_the_mirror_is_not_being_written(
    client: FlaskClient, status: FakeStatus, breakage: str
) -> None:
    if breakage == "backend down":
        status.up = False
    elif breakage == "writer circuit open":
        status.writer = writer_status(circuit="open")
    else:
        status.checks = {"writer": "no flush for 120 s", "reflector/pods": None}
    body = get(client, "/api/v1/health", status=503)
    assert body["status"] == "unhealthy" and len(body["problems"]) == 1


# -- /api/v1/status ------------------------------------------------------------------------------


def test_status_reports_every_informer_the_writer_and_the_backend(
    client: FlaskClient, status: FakeStatus, registry: Registry
) -> None:
    status.states["pods"] = reflector_state(
        "pods",
        phase=Phase.CIRCUIT_OPEN,
        circuit="open",
        failures=6,
        last_error="KubeConnectionError: refused",
        last_event_at=NOW - 42.5,
        resource_version="4711",
        relists=2,
        watch_restarts={"expired": 2},
    )
    status.sizes["pods"] = 35
    status.writer = writer_status(queue_depth=12, last_flush_at=NOW - 1.5)
    status.checks = {"reflector/pods": "circuit open"}
    body = get(client, "/api/v1/status")
    assert body["status"] == "degraded" and body["ready"] is True
    assert body["cluster"] == registry.cluster
    assert set(body["informers"]) == set(registry.names)
    pods = body["informers"]["pods"]
    assert pods["phase"] == "circuit-open"
    assert (pods["circuit"], pods["failures"], pods["lastError"]) == (
        "open",
        6,
        "KubeConnectionError: refused",
    )
    assert pods["lastEventAgeSeconds"] == 42.5
    assert pods["resourceVersion"] == "4711"
    assert (pods["storeObjects"], pods["relists"], pods["watchRestarts"]) == (35, 2, {"expired": 2})
    writer = body["writer"]
    assert (writer["queueDepth"], writer["lastFlushAgeSeconds"]) == (12, 1.5)
    assert (writer["circuit"], writer["firstFullSyncFlushed"]) == ("closed", True)
    assert (writer["running"], writer["batches"], writer["errors"]) == (True, 4, {})
    assert body["backend"]["up"] is True and body["backend"]["error"] is None
    assert body["health"] == {"reflector/pods": "circuit open"}


def test_status_pings_the_backend_and_reports_it_down(client: FlaskClient, backend: Any) -> None:
    backend.close()  # later calls raise PermanentBackendError
    body = get(client, "/api/v1/status")
    assert body["backend"]["up"] is False
    assert body["backend"]["error"].startswith("PermanentBackendError")


# -- /api/v1/stats/overview ----------------------------------------------------------------------


def test_stats_overview_counts_every_resource_with_the_seed_breakdowns(
    client: FlaskClient, registry: Registry
) -> None:
    body = get(client, "/api/v1/stats/overview")
    resources = body["resources"]
    assert list(resources) == list(registry.names)
    assert body["total"] == 35 + 3 + 4 + 5 + 4
    pods = resources["pods"]
    assert pods["count"] == 35
    assert pods["breakdowns"]["phase"] == {"Running": 20, "Pending": 10, "Succeeded": 5}
    assert pods["breakdowns"]["node"] == {"node-0": 17, "node-1": 12, "unscheduled": 6}
    assert resources["deployments"]["breakdowns"] == {
        "availability": {"fullyAvailable": 2, "notFullyAvailable": 2}
    }
    assert resources["nodes"]["breakdowns"] == {"readiness": {"ready": 2, "notReady": 1}}
    assert resources["events"]["breakdowns"] == {"type": {"Normal": 3, "Warning": 2}}
    assert resources["jobs"]["breakdowns"] == {
        "outcome": {"Complete": 2, "Failed": 1, "Running": 1}
    }
    assert resources["configmaps"] == {"kind": "ConfigMap", "count": 0, "breakdowns": {}}


# -- /api/v1/openapi.json ------------------------------------------------------------------------


def test_the_openapi_document_describes_every_route_of_every_resource(
    client: FlaskClient, registry: Registry
) -> None:
    doc = get(client, "/api/v1/openapi.json")
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for spec in registry:
        assert f"/api/v1/{spec.name}" in paths
        assert f"/api/v1/{spec.name}/{{uid}}" in paths
        for prefix in ("namespace", "namespaces"):
            assert (f"/api/v1/{prefix}/{{ns}}/{spec.name}" in paths) is spec.namespaced
    for path in ("/api/v1/resources", "/api/v1/status", "/api/v1/health", "/healthz", "/readyz"):
        assert path in paths
    assert "/api/v1/stats/overview" in paths and "/metrics" in paths
    listed = {p["$ref"].rsplit("/", 1)[1] for p in paths["/api/v1/pods"]["get"]["parameters"]}
    assert listed == {"page", "limit", "namespace", "search", "labelSelector", "sort"}
    node_params = paths["/api/v1/nodes"]["get"]["parameters"]
    assert {p["$ref"].rsplit("/", 1)[1] for p in node_params} == listed - {"namespace"}
    assert "security" not in doc  # no token configured


def test_every_route_of_the_app_is_in_the_openapi_document(
    client: FlaskClient, app: Any, registry: Registry
) -> None:
    doc = get(client, "/api/v1/openapi.json")
    documented = set(doc["paths"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        template = rule.rule.replace("<", "{").replace(">", "}")
        cluster_scoped_namespace_route = "/{ns}/" in template and not any(
            template.endswith(f"/{s.name}") for s in registry if s.namespaced
        )
        if cluster_scoped_namespace_route:
            continue  # the 404 of a cluster-scoped resource's namespace route
        assert template in documented, template
