"""Every injected fault as the official client (or a raw socket) sees it over real HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import urllib3
from kubernetes.client import AppsV1Api, CoreV1Api
from kubernetes.client.rest import ApiException
from kubernetes.watch import Watch

from informer_mirror.sim import SimHandle, start_sim
from tests.helpers import namespace_obj, pod_obj, wait_until

READ_TIMEOUT = (5, 5)


@pytest.fixture
def strict_api(kubeconfig: Path) -> Iterator[kubernetes.client.ApiClient]:
    """A client without urllib3's automatic retries, so every fault reaches the caller."""
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(kubeconfig), client_configuration=config)
    config.retries = False
    api = kubernetes.client.ApiClient(config)
    try:
        yield api
    finally:
        api.close()


def _setup(sim: SimHandle, *names: str) -> str:
    sim.state.create("namespaces", namespace_obj("default"))
    for name in names:
        sim.state.create("pods", pod_obj(name))
    return str(sim.state.resource_version)


def _status(err: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(err.body)
    return body


def _statuses(sim: SimHandle, path_contains: str = "/") -> list[int]:
    return [r.status for r in sim.faults.requests(path_contains)]


def test_the_next_requests_fail_with_a_500_internal_error_status(
    sim: SimHandle, strict_api: kubernetes.client.ApiClient
) -> None:
    _setup(sim, "a")
    sim.faults.fail_next(2, status=500)
    v1 = CoreV1Api(strict_api)
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            v1.list_namespaced_pod("default")
        assert err.value.status == 500
        status = _status(err.value)
        assert status["kind"] == "Status"
        assert status["reason"] == "InternalError"
    assert len(v1.list_namespaced_pod("default").items) == 1
    assert _statuses(sim) == [500, 500, 200]


@pytest.mark.parametrize(
    ("code", "reason"), [(429, "TooManyRequests"), (503, "ServiceUnavailable")]
)
def test_429_and_503_carry_retry_after(
    sim: SimHandle, strict_api: kubernetes.client.ApiClient, code: int, reason: str
) -> None:
    _setup(sim)
    sim.faults.fail_next(1, status=code, retry_after=7)
    with pytest.raises(ApiException) as err:
        CoreV1Api(strict_api).list_namespaced_pod("default")
    assert err.value.status == code
    assert err.value.headers["Retry-After"] == "7"
    status = _status(err.value)
    assert status["reason"] == reason
    assert status["details"]["retryAfterSeconds"] == 7


def test_the_default_client_silently_retries_a_429_after_retry_after(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    # urllib3's default Retry honours Retry-After on 413/429/503 for GETs: an informer that wants
    # to see (and count) throttling must configure retries itself.
    _setup(sim, "a")
    sim.faults.fail_next(1, status=429, retry_after=0)
    assert len(CoreV1Api(kube_api).list_namespaced_pod("default").items) == 1
    assert _statuses(sim) == [429, 200]


def test_failures_can_target_one_resource_or_one_path(
    sim: SimHandle, strict_api: kubernetes.client.ApiClient
) -> None:
    _setup(sim, "a")
    sim.faults.fail_next(1, status=500, resource="deployments")
    sim.faults.fail_next(1, status=502, path_contains="/namespaces/default/configmaps")
    v1, apps = CoreV1Api(strict_api), AppsV1Api(strict_api)
    v1.list_namespaced_pod("default")
    v1.list_config_map_for_all_namespaces()
    with pytest.raises(ApiException) as deploy_err:
        apps.list_namespaced_deployment("default")
    with pytest.raises(ApiException) as cm_err:
        v1.list_namespaced_config_map("default")
    assert (deploy_err.value.status, cm_err.value.status) == (500, 502)
    apps.list_namespaced_deployment("default")


def test_a_forbidden_verb_gets_the_rbac_message(
    sim: SimHandle, strict_api: kubernetes.client.ApiClient
) -> None:
    _setup(sim, "a")
    sim.faults.forbid("list", "pods")
    v1 = CoreV1Api(strict_api)
    with pytest.raises(ApiException) as cluster:
        v1.list_pod_for_all_namespaces()
    assert cluster.value.status == 403
    assert _status(cluster.value)["message"] == (
        'pods is forbidden: User "system:serviceaccount:informer-mirror:informer-mirror" '
        'cannot list resource "pods" in API group "" at the cluster scope'
    )
    with pytest.raises(ApiException) as namespaced:
        v1.list_namespaced_pod("default")
    assert _status(namespaced.value)["message"].endswith('in the namespace "default"')
    assert v1.read_namespaced_pod("a", "default").metadata.name == "a"  # get is still allowed
    sim.faults.allow("list", "pods")
    assert len(v1.list_pod_for_all_namespaces().items) == 1


def test_a_forbidden_watch_names_the_watch_verb_and_the_api_group(
    sim: SimHandle, strict_api: kubernetes.client.ApiClient
) -> None:
    _setup(sim)
    sim.faults.forbid("watch", "deployments", group="apps")
    with pytest.raises(ApiException) as err:
        AppsV1Api(strict_api).list_deployment_for_all_namespaces(watch=True)
    assert err.value.status == 403
    message = _status(err.value)["message"]
    assert message.startswith("deployments.apps is forbidden: ")
    assert 'cannot watch resource "deployments" in API group "apps" at the cluster scope' in message


def test_an_unserved_resource_is_404_and_gone_from_discovery(
    sim: SimHandle, strict_api: kubernetes.client.ApiClient
) -> None:
    _setup(sim)
    sim.faults.unserve("deployments", group="apps")
    with pytest.raises(ApiException) as err:
        AppsV1Api(strict_api).list_deployment_for_all_namespaces()
    assert err.value.status == 404
    assert _status(err.value)["message"] == "the server could not find the requested resource"
    resources = AppsV1Api(strict_api).get_api_resources().resources
    assert "deployments" not in [r.name for r in resources]
    assert "statefulsets" in [r.name for r in resources]
    sim.faults.serve("deployments", group="apps")
    AppsV1Api(strict_api).list_deployment_for_all_namespaces()


def test_with_a_token_requests_without_it_get_a_401_status(tmp_path: Path) -> None:
    handle = start_sim(token="s3cret")
    try:
        _setup(handle, "a")
        good = kubernetes.config.new_client_from_config(
            config_file=str(handle.write_kubeconfig(tmp_path / "good"))
        )
        bad = kubernetes.config.new_client_from_config(
            config_file=str(handle.write_kubeconfig(tmp_path / "bad", token=""))
        )
        try:
            assert len(CoreV1Api(good).list_namespaced_pod("default").items) == 1
            with pytest.raises(ApiException) as err:
                CoreV1Api(bad).list_namespaced_pod("default")
        finally:
            good.close()
            bad.close()
    finally:
        handle.stop()
    assert err.value.status == 401
    assert _status(err.value)["reason"] == "Unauthorized"


def test_a_delay_holds_every_response(
    sim: SimHandle, strict_api: kubernetes.client.ApiClient
) -> None:
    _setup(sim)
    sim.faults.set_delay(2.0)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        CoreV1Api(strict_api).list_namespaced_pod("default", _request_timeout=(5, 0.3))
    sim.faults.set_delay(0)
    CoreV1Api(strict_api).list_namespaced_pod("default", _request_timeout=(5, 5))


def _raw_watch(sim: SimHandle, query: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", sim.port), timeout=5)
    request = (
        f"GET /api/v1/namespaces/default/pods?watch=true&{query} HTTP/1.1\r\nHost: sim\r\n\r\n"
    )
    sock.sendall(request.encode())
    return sock


def _recv_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before {marker!r}; got {data!r}")
        data += chunk
    return data


def test_a_stalled_watch_sends_no_bytes_until_unstalled(sim: SimHandle) -> None:
    rv = _setup(sim)
    sock = _raw_watch(sim, f"resourceVersion={rv}")
    try:
        assert b"200 OK" in _recv_until(sock, b"\r\n\r\n")
        wait_until(sim.server.watchers)
        assert sim.faults.stall_watches() == 1
        sim.state.create("pods", pod_obj("during-stall"))
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(65536)
        sock.settimeout(5)
        sim.faults.unstall_watches()
        assert b'"name":"during-stall"' in _recv_until(sock, b"during-stall")
    finally:
        sock.close()


def test_stalling_new_watches_withholds_even_the_response_headers(sim: SimHandle) -> None:
    rv = _setup(sim)
    sim.faults.stall_watches(new_watches=True)
    sock = _raw_watch(sim, f"resourceVersion={rv}")
    try:
        wait_until(sim.server.watchers)
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(65536)
        assert _statuses(sim) == [0]  # logged on arrival, not answered yet
        sock.settimeout(5)
        sim.faults.unstall_watches()
        assert b"200 OK" in _recv_until(sock, b"\r\n\r\n")
        assert _statuses(sim) == [200]
    finally:
        sock.close()


def test_dropped_watches_break_mid_stream(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    rv = _setup(sim, "a")
    sim.state.create("pods", pod_obj("b"))
    stream = Watch().stream(
        CoreV1Api(kube_api).list_namespaced_pod,
        "default",
        resource_version=rv,
        timeout_seconds=30,
        _request_timeout=READ_TIMEOUT,
    )
    assert next(stream)["raw_object"]["metadata"]["name"] == "b"
    assert sim.faults.drop_watches() == 1
    with pytest.raises(urllib3.exceptions.ProtocolError):
        next(stream)


def test_closed_watches_end_cleanly(sim: SimHandle, kube_api: kubernetes.client.ApiClient) -> None:
    rv = _setup(sim, "a")
    sim.state.create("pods", pod_obj("b"))
    stream = Watch().stream(
        CoreV1Api(kube_api).list_namespaced_pod,
        "default",
        resource_version=rv,
        timeout_seconds=30,
        _request_timeout=READ_TIMEOUT,
    )
    assert next(stream)["type"] == "ADDED"
    assert sim.faults.close_watches() == 1
    assert list(stream) == []


def test_restart_drops_connections_and_keeps_the_state(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    rv = _setup(sim, "a", "b")
    v1 = CoreV1Api(kube_api)
    before = v1.list_namespaced_pod("default")
    stream = Watch().stream(
        v1.list_namespaced_pod,
        "default",
        resource_version=rv,
        timeout_seconds=30,
        _request_timeout=READ_TIMEOUT,
    )
    sim.state.create("pods", pod_obj("c"))
    assert next(stream)["raw_object"]["metadata"]["name"] == "c"
    sim.faults.restart()
    with pytest.raises(urllib3.exceptions.ProtocolError):
        next(stream)
    after = v1.list_namespaced_pod("default")
    assert [p.metadata.uid for p in after.items[:2]] == [p.metadata.uid for p in before.items]
    assert after.metadata.resource_version == str(sim.state.resource_version)
    assert sim.port == int(sim.url.rsplit(":", 1)[1])


def test_expiring_history_makes_the_next_watch_from_an_old_rv_a_410(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    rv = _setup(sim, "a")
    v1 = CoreV1Api(kube_api)
    ok = Watch().stream(v1.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=1)
    assert list(ok) == []
    sim.faults.expire_history()
    with pytest.raises(ApiException) as err:
        list(
            Watch().stream(
                v1.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=5
            )
        )
    assert err.value.status == 410
