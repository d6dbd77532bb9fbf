"""Starting and stopping the sim (no leaked threads), its kubeconfig, the CLI hook and the
``/_sim/`` control endpoint."""

from __future__ import annotations

import json
import os
import stat
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import urllib3
import yaml
from kubernetes.client import CoreV1Api
from kubernetes.watch import Watch

from informer_mirror.sim import SimHandle, run_sim_forever, start_sim
from tests.helpers import namespace_obj, pod_obj, wait_until


def _http(url: str, *, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # our own loopback server
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _thread_names() -> set[str]:
    return {t.name for t in threading.enumerate()}


def test_stop_ends_every_thread_even_with_open_and_stalled_watches(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    handle = start_sim(bookmark_interval=0.1)
    handle.state.create("namespaces", namespace_obj("default"))
    handle.state.create("pods", pod_obj("a"))
    api = kubernetes.config.new_client_from_config(
        config_file=str(handle.write_kubeconfig(tmp_path / "kubeconfig"))
    )
    v1 = CoreV1Api(api)
    v1.list_namespaced_pod("default")  # leaves a keep-alive connection open
    stream = Watch().stream(
        v1.list_namespaced_pod, "default", timeout_seconds=60, _request_timeout=(5, 5)
    )
    assert next(stream)["type"] == "ADDED"
    handle.faults.stall_watches(new_watches=True)
    outcome: list[BaseException] = []

    def stalled_watch() -> None:
        try:
            v1.list_namespaced_pod(
                "default", watch=True, _preload_content=False, _request_timeout=(5, 5)
            )
        except urllib3.exceptions.HTTPError as e:  # the server went away before answering
            outcome.append(e)

    stalled = threading.Thread(target=stalled_watch, name="test-stalled-watch")
    stalled.start()
    wait_until(lambda: len(handle.server.watchers()) == 2)
    assert any(name.startswith("sim-conn-") for name in _thread_names())
    handle.stop()
    handle.stop()  # idempotent
    stalled.join()
    api.close()
    assert len(outcome) == 1
    leaked = [t for t in threading.enumerate() if t not in before]
    assert leaked == []


def test_the_kubeconfig_is_private_and_points_the_client_at_the_sim(
    sim: SimHandle, tmp_path: Path
) -> None:
    path = sim.write_kubeconfig(tmp_path / "nested" / "kubeconfig", token="t0ken")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config = yaml.safe_load(path.read_text())
    assert config["clusters"][0]["cluster"]["server"] == sim.url
    assert config["users"][0]["user"] == {"token": "t0ken"}
    api = kubernetes.config.new_client_from_config(config_file=str(path))
    try:
        assert CoreV1Api(api).list_namespace().items == []
    finally:
        api.close()


def test_run_sim_forever_populates_churns_and_stops_cleanly(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    stop = threading.Event()
    kubeconfig = tmp_path / "sim.kubeconfig"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_sim_forever(
                port=0, kubeconfig=kubeconfig, objects=120, churn=50.0, seed=3, stop=stop
            )
        except BaseException as e:  # reported by the assertion below
            errors.append(e)

    runner = threading.Thread(target=run, name="test-run-sim-forever")
    runner.start()
    try:
        wait_until(kubeconfig.exists, timeout=30)
        url = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        status, pods = _http(url + "/api/v1/pods")
        assert status == 200
        assert len(pods["items"]) > 5
        rv = int(pods["metadata"]["resourceVersion"])
        wait_until(lambda: _http(url + "/_sim/state")[1]["resourceVersion"] > rv, timeout=10)
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive()
    assert errors == []
    assert [t for t in threading.enumerate() if t not in before] == []


def test_the_request_log_is_readable_over_http_and_omits_control_requests(sim: SimHandle) -> None:
    sim.state.create("namespaces", namespace_obj("default"))
    _http(sim.url + "/api/v1/namespaces/default/pods?limit=5")
    _http(sim.url + "/api/v1/namespaces/default/pods/missing")
    _http(sim.url + "/_sim/state")
    status, log = _http(sim.url + "/_sim/requests")
    assert status == 200
    assert [(r["method"], r["path"], r["query"], r["status"]) for r in log] == [
        ("GET", "/api/v1/namespaces/default/pods", "limit=5", 200),
        ("GET", "/api/v1/namespaces/default/pods/missing", "", 404),
    ]
    assert log[0]["time"] <= log[1]["time"]
    assert _http(sim.url + "/_sim/requests", method="DELETE")[0] == 200
    assert _http(sim.url + "/_sim/requests")[1] == []


def test_the_control_endpoint_drives_faults_over_http(sim: SimHandle) -> None:
    sim.state.create("namespaces", namespace_obj("default"))
    sim.state.create("pods", pod_obj("a"))
    assert _http(sim.url + "/_sim/fail", method="POST", body={"count": 1, "status": 500})[0] == 200
    assert _http(sim.url + "/api/v1/pods")[0] == 500
    assert _http(sim.url + "/api/v1/pods")[0] == 200
    _http(sim.url + "/_sim/forbid", method="POST", body={"verb": "list", "resource": "pods"})
    status, body = _http(sim.url + "/api/v1/pods")
    assert (status, body["reason"]) == (403, "Forbidden")
    _http(sim.url + "/_sim/reset", method="POST")
    assert _http(sim.url + "/api/v1/pods")[0] == 200
    _http(sim.url + "/_sim/unserve", method="POST", body={"resource": "pods"})
    assert _http(sim.url + "/api/v1/pods")[0] == 404
    assert _http(sim.url + "/_sim/faults")[1]["unserved"] == ["pods"]
    _http(sim.url + "/_sim/serve", method="POST", body={"resource": "pods"})
    state = _http(sim.url + "/_sim/state")[1]
    assert state["counts"]["pods"] == 1
    assert state["resourceVersion"] == sim.state.resource_version
    expired = _http(sim.url + "/_sim/expire", method="POST", body={"resource": "pods"})[1]
    assert expired["resourceVersion"] == sim.state.resource_version


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/_sim/fail", {"count": "many"}, 400),
        ("/_sim/forbid", {"verb": "fly", "resource": "pods"}, 400),
        ("/_sim/forbid", {"resource": "pods"}, 400),
        ("/_sim/nothing", {}, 404),
    ],
)
def test_the_control_endpoint_rejects_bad_requests(
    sim: SimHandle, path: str, body: dict[str, Any], code: int
) -> None:
    status, answer = _http(sim.url + path, method="POST", body=body)
    assert status == code
    assert "error" in answer


def test_a_restart_over_http_comes_back_on_the_same_port_with_the_same_state(
    sim: SimHandle,
) -> None:
    sim.state.create("namespaces", namespace_obj("default"))
    sim.state.create("pods", pod_obj("a"))
    status, answer = _http(sim.url + "/_sim/restart", method="POST", body={"downtime": 0.1})
    assert (status, answer["restarting"]) == (202, True)

    def serving() -> bool:
        try:
            return _http(sim.url + "/api/v1/pods")[0] == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    wait_until(serving, timeout=10)
    assert [p["metadata"]["name"] for p in _http(sim.url + "/api/v1/pods")[1]["items"]] == ["a"]
