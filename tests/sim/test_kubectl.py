"""kubectl, unchanged, against the simulated API server (skipped when kubectl is not on PATH)."""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from informer_mirror.sim import SimHandle
from tests.helpers import deployment_obj, namespace_obj, pod_obj, wait_until

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")


def _kubectl(kubeconfig: Path, cache: Path, *args: str) -> list[str]:
    assert KUBECTL is not None
    return [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache), *args]


@pytest.fixture
def cluster(sim: SimHandle) -> SimHandle:
    state = sim.state
    for ns in ("default", "shop"):
        state.create("namespaces", namespace_obj(ns))
    state.create("pods", pod_obj("web-1"))
    state.create("pods", pod_obj("cart-1", namespace="shop"))
    state.create("deployments", deployment_obj("cart", namespace="shop"))
    return sim


def _run(cmd: list[str]) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_kubectl_gets_pods_in_all_namespaces(
    cluster: SimHandle, kubeconfig: Path, tmp_path: Path
) -> None:
    out = _run(_kubectl(kubeconfig, tmp_path / "cache", "get", "pods", "-A"))
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["NAMESPACE", "NAME"]
    rows = {tuple(line.split()[:2]) for line in lines[1:]}
    assert rows == {("default", "web-1"), ("shop", "cart-1")}


def test_kubectl_gets_deployments_in_all_namespaces(
    cluster: SimHandle, kubeconfig: Path, tmp_path: Path
) -> None:
    out = _run(_kubectl(kubeconfig, tmp_path / "cache", "get", "deployments", "-A"))
    assert [line.split()[:2] for line in out.splitlines()[1:]] == [["shop", "cart"]]


def test_kubectl_get_raw_returns_the_namespace_list(
    cluster: SimHandle, kubeconfig: Path, tmp_path: Path
) -> None:
    out = _run(_kubectl(kubeconfig, tmp_path / "cache", "get", "--raw", "/api/v1/namespaces"))
    assert '"kind":"NamespaceList"' in out
    assert '"name":"shop"' in out


def test_kubectl_watches_pods_and_prints_changes(
    cluster: SimHandle, kubeconfig: Path, tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        _kubectl(kubeconfig, tmp_path / "cache", "get", "pods", "-A", "-w"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in stdout], name="kubectl-stdout", daemon=True
    )
    reader.start()
    seen: list[str] = []

    def saw(text: str) -> bool:
        while not lines.empty():
            seen.append(lines.get())
        return any(text in line for line in seen)

    try:
        wait_until(lambda: saw("cart-1"), timeout=30, message="kubectl printed no initial list")
        wait_until(cluster.server.watchers, timeout=30, message="kubectl never watched")
        cluster.state.create("pods", pod_obj("web-2"))
        wait_until(lambda: saw("web-2"), timeout=30, message="kubectl printed no watch event")
    finally:
        proc.kill()
        proc.communicate()
    assert any(line.split()[:2] == ["default", "web-2"] for line in seen)
