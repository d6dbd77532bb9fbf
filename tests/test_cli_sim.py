"""``informer-mirror sim`` as a user runs it: a real process, a real port, a real kubeconfig."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import wait_until

SimProcess = tuple["subprocess.Popen[str]", Path]


def _server_url(kubeconfig: Path) -> str:
    config = yaml.safe_load(kubeconfig.read_text())
    url: str = config["clusters"][0]["cluster"]["server"]
    return url


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # only our own loopback server
        return json.loads(response.read())


@pytest.fixture
def sim_process(tmp_path: Path) -> Iterator[SimProcess]:
    kubeconfig = tmp_path / "sim.kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "informer_mirror",
            "sim",
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            "--objects",
            "300",
            "--churn",
            "20",
            "--seed",
            "7",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: kubeconfig.exists() or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, proc.communicate()[1]
        yield proc, kubeconfig
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_sim_serves_a_populated_cluster_and_exits_0_on_sigterm(sim_process: SimProcess) -> None:
    proc, kubeconfig = sim_process
    url = _server_url(kubeconfig)
    assert url.startswith("http://127.0.0.1:")

    version = _get_json(url + "/version")
    assert "gitVersion" in version
    pods = _get_json(url + "/api/v1/pods")
    assert pods["kind"] == "PodList"
    assert isinstance(pods["items"], list)
    assert len(pods["items"]) > 10
    namespaces = _get_json(url + "/api/v1/namespaces")
    assert len(namespaces["items"]) >= 2

    # churn moves the global resourceVersion forward
    rv0 = int(pods["metadata"]["resourceVersion"])
    wait_until(
        lambda: int(_get_json(url + "/api/v1/pods?limit=1")["metadata"]["resourceVersion"]) > rv0,
        timeout=20,
    )

    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def test_sim_also_exits_0_on_sigint(sim_process: SimProcess) -> None:
    proc, _kubeconfig = sim_process
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")
def test_kubectl_lists_pods_through_the_written_kubeconfig(
    sim_process: SimProcess, tmp_path: Path
) -> None:
    _proc, kubeconfig = sim_process
    result = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(tmp_path / "kcache"),
            "get",
            "pods",
            "-A",
            "-o",
            "name",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("pod/") > 10
