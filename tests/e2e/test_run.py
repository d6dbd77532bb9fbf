"""End to end: the real ``informer-mirror run`` in a subprocess against the simulated cluster
(in this process, over real HTTP) with SQLite in a temporary directory.

The daemon is started, stopped with SIGTERM and killed with SIGKILL as systemd would; the cluster
is changed through the sim's Kubernetes HTTP API; what the mirror holds is read back through the
daemon's REST API and compared object by object with the sim's state.
"""

from __future__ import annotations

import contextlib
import random
import re
import signal
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from informer_mirror.kinds import BUILTIN_KINDS
from informer_mirror.sim import SimHandle, start_sim
from informer_mirror.sim.kubeconfig import write_kubeconfig
from informer_mirror.sim.objects import populate
from tests.conftest import SIM_BOOKMARK_INTERVAL
from tests.e2e.support import (
    DaemonProcess,
    mirror_differences,
    run_daemon,
    sim_request,
    write_config,
)
from tests.helpers import wait_until

ALL = [kind.plural for kind in BUILTIN_KINDS]


def daemon_config(tmp_path: Path, kubeconfig: Path, **sections: dict[str, Any]) -> Path:
    """A configuration for a fast test: SQLite in ``tmp_path``, any free API port, short
    flush interval, health checks every second, short circuit cool-downs."""
    config: dict[str, dict[str, Any]] = {
        "cluster": {"name": "e2e", "kubeconfig": str(kubeconfig)},
        "backend": {"kind": "sqlite", "path": str(tmp_path / "mirror.db")},
        "writer": {"flush_interval": 0.05, "drain_timeout": 10},
        "api": {"port": 0},
        "health": {"interval": 1, "retry_delay": 0.5, "max_retry_delay": 2},
    }
    config.update(sections)
    return write_config(tmp_path / "mirror.yaml", **config)


def assert_mirror_converges(daemon: DaemonProcess, sim: SimHandle, timeout: float = 10) -> None:
    last: list[str] = []

    def exact() -> bool:
        last[:] = mirror_differences(daemon, sim, ALL)
        return not last

    wait_until(exact, timeout, interval=0.05, message=f"the mirror differs from the sim: {last}")


def writer_progress(daemon: DaemonProcess) -> dict[str, dict[str, int]]:
    code, status = daemon.get("/api/v1/status")
    assert code == 200, status
    resources: dict[str, dict[str, int]] = status["writer"]["resources"]
    return resources


@contextlib.contextmanager
def database_write_lock(path: Path) -> Iterator[None]:
    """Hold SQLite's write lock on ``path``: the daemon's writes wait (readers do not, in WAL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def stopped_cleanly(daemon: DaemonProcess) -> None:
    assert daemon.terminate() == 0, daemon.stderr[-20:]
    exited_cleanly(daemon)


def exited_cleanly(daemon: DaemonProcess) -> None:
    assert daemon.wait() == 0, daemon.stderr[-20:]
    log = daemon.stderr
    assert not any("Traceback" in line for line in log), log
    assert log[-1].endswith("informer_mirror.daemon: stopped"), log[-5:]


def test_the_daemon_mirrors_the_cluster_follows_its_changes_and_restarts_into_its_exact_state(
    sim: SimHandle, tmp_path: Path
) -> None:
    populate(sim.state, 100, random.Random(7))
    config = daemon_config(tmp_path, sim.write_kubeconfig(tmp_path / "kubeconfig"))

    # A cold start: once ready, every object of the sim is served with the right fields.
    with run_daemon(config) as first:
        first.wait_ready()
        assert mirror_differences(first, sim, ALL) == []

        # Changes made through the sim's HTTP API show up in the API.
        sim_request(
            sim,
            "POST",
            "configmaps",
            "default",
            body={"metadata": {"name": "e2e-new", "namespace": "default"}, "data": {"k": "v"}},
        )
        deployment = sim.state.list_objects("deployments")[0]
        deployment["spec"]["replicas"] = 7
        deployment["metadata"].setdefault("labels", {})["e2e"] = "changed"
        meta = deployment["metadata"]
        sim_request(sim, "PUT", "deployments", meta["namespace"], meta["name"], deployment)
        pod = sim.state.list_objects("pods")[0]["metadata"]
        sim_request(sim, "DELETE", "pods", pod["namespace"], pod["name"])
        assert_mirror_converges(first, sim)
        code, page = first.get("/api/v1/configmaps?search=e2e-new")
        assert code == 200 and [i["name"] for i in page["items"]] == ["e2e-new"]

        # SIGTERM while a write is held up by the database: the drain lands it before exit.
        with database_write_lock(tmp_path / "mirror.db"):
            sim_request(
                sim,
                "POST",
                "configmaps",
                "default",
                body={"metadata": {"name": "e2e-drained", "namespace": "default"}},
            )
            wait_until(lambda: first.get("/api/v1/status")[1]["writer"]["inFlight"] > 0)
            first.signal(signal.SIGTERM)
            first.log_match(r"writer: draining")
        exited_cleanly(first)
        log = first.stderr
        order = ["informers: stopped", "writer: draining", "api: stopped", "backend: closed"]
        positions = [next(i for i, line in enumerate(log) if step in line) for step in order]
        assert positions == sorted(positions), log

    total = sum(len(objects) for objects in sim.state.snapshot().values())

    # A warm restart after a clean stop writes nothing: every document is current.
    with run_daemon(config) as second:
        second.wait_ready()
        assert mirror_differences(second, sim, ALL) == []  # e2e-drained included
        # Ready means nothing is left to write; the keys found current may still be in the
        # queue, being checked and counted.
        wait_until(
            lambda: sum(p["unchanged"] for p in writer_progress(second).values()) == total,
            message="the writer did not find every document current",
        )
        progress = writer_progress(second)
        assert {name: p["upserted"] for name, p in progress.items() if p["upserted"]} == {}
        assert second.kill() == -signal.SIGKILL

    # While it is down, objects are deleted and one is changed.
    gone = sim.state.list_objects("pods")[:3] + sim.state.list_objects("services")[:1]
    for obj in gone:
        meta = obj["metadata"]
        resource = "pods" if obj["kind"] == "Pod" else "services"
        sim_request(sim, "DELETE", resource, meta["namespace"], meta["name"])
    configmap = sim.state.get("configmaps", "default", "e2e-new")
    configmap["data"] = {"k": "changed while the daemon was down"}
    sim_request(sim, "PUT", "configmaps", "default", "e2e-new", configmap)

    # Restarted, it serves exactly the sim's state again, having written only the differences.
    with run_daemon(config) as third:
        third.wait_ready()
        assert mirror_differences(third, sim, ALL) == []
        progress = writer_progress(third)
        assert progress["pods"]["staleDeleted"] == 3
        assert progress["services"]["staleDeleted"] == 1
        assert {name: p["upserted"] for name, p in progress.items() if p["upserted"]} == {
            "configmaps": 1
        }
        code, metrics = third.get("/metrics")
        assert code == 200
        upserts = re.findall(
            r'^informer_mirror_writer_documents_written_total\{operation="upsert",'
            r'resource="(\w+)"\} (\S+)$',
            metrics,
            flags=re.MULTILINE,
        )
        assert upserts == [("configmaps", "1.0")]
        stopped_cleanly(third)


def test_systemd_hears_status_then_ready_then_watchdog_pings_then_stopping(
    sim: SimHandle, tmp_path: Path
) -> None:
    populate(sim.state, 50, random.Random(3))
    config = daemon_config(
        tmp_path,
        sim.write_kubeconfig(tmp_path / "kubeconfig"),
        resources={"include": ["namespaces", "pods", "deployments"]},
    )
    name = f"informer-mirror-e2e-{uuid.uuid4().hex}"
    messages: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)  # the abstract namespace: no path length limit, no file
        listener.settimeout(0.1)

        def received(wanted: str) -> bool:
            with contextlib.suppress(TimeoutError):
                messages.append(listener.recv(4096).decode())
            return any(wanted in m.splitlines() for m in messages)

        # WATCHDOG_USEC=2 s: systemd wants a ping at least every second.
        env = {"NOTIFY_SOCKET": f"@{name}", "WATCHDOG_USEC": "2000000"}
        with run_daemon(config, env=env) as daemon:
            wait_until(lambda: received("READY=1"), 15, interval=0)
            wait_until(lambda: received("WATCHDOG=1"), 10, interval=0)
            daemon.signal(signal.SIGTERM)
            wait_until(lambda: received("STOPPING=1"), 15, interval=0)
            assert daemon.wait() == 0
    lines = [line for m in messages for line in m.splitlines()]
    ready = lines.index("READY=1")
    assert any(line.startswith("STATUS=syncing") for line in lines[:ready])
    assert "STATUS=mirroring 3 resources" in lines
    assert lines.index("STOPPING=1") > ready


def test_forbidden_and_unserved_resources_are_degraded_with_the_missing_rule_the_rest_is_ready(
    sim: SimHandle, tmp_path: Path
) -> None:
    populate(sim.state, 50, random.Random(5))
    sim.faults.forbid("list", "ingresses", group="networking.k8s.io")
    sim.faults.unserve("networkpolicies", group="networking.k8s.io")
    config = daemon_config(
        tmp_path,
        sim.write_kubeconfig(tmp_path / "kubeconfig"),
        resources={"include": ["namespaces", "pods", "ingresses", "networkpolicies"]},
    )
    rule = (
        '{apiGroups: ["networking.k8s.io"], resources: ["ingresses"], '
        'verbs: ["get", "list", "watch"]}'
    )
    with run_daemon(config) as daemon:
        readyz = daemon.wait_ready()
        assert sorted(readyz["degraded"]) == ["ingresses", "networkpolicies"]
        assert rule in readyz["degraded"]["ingresses"]
        assert "not served by this API server (404)" in readyz["degraded"]["networkpolicies"]
        code, status = daemon.get("/api/v1/status")
        assert code == 200 and status["ready"] is True and status["status"] == "degraded"
        informers = status["informers"]
        assert rule in informers["ingresses"]["degraded"]
        assert informers["ingresses"]["synced"] is False
        assert informers["pods"]["synced"] is True and informers["pods"]["degraded"] is None
        assert mirror_differences(daemon, sim, ["namespaces", "pods"]) == []
        daemon.log_match(r"ingresses: degraded, the API server refuses it: forbidden")
        stopped_cleanly(daemon)


def test_an_unreachable_api_server_is_retried_until_it_answers_and_the_daemon_stays_up(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on (yet)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    config = daemon_config(tmp_path, kubeconfig, resources={"include": ["namespaces", "pods"]})
    sim: SimHandle | None = None
    try:
        # Written before the server exists: the daemon connects to a refused port.
        write_kubeconfig(kubeconfig, f"http://127.0.0.1:{port}")
        with run_daemon(config) as daemon:

            def refused() -> bool:
                code, body = daemon.get("/readyz")
                return code == 503 and any("KubeConnectionError" in r for r in body["reasons"])

            wait_until(refused, 15, interval=0.05)
            assert daemon.get("/healthz")[0] == 200
            assert daemon.process.poll() is None

            sim = start_sim(port=port, bookmark_interval=SIM_BOOKMARK_INTERVAL)
            populate(sim.state, 30, random.Random(9))
            daemon.wait_ready(timeout=20)
            assert mirror_differences(daemon, sim, ["namespaces", "pods"]) == []
            stopped_cleanly(daemon)
    finally:
        if sim is not None:
            sim.stop()


def test_an_invalid_configuration_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    config = write_config(tmp_path / "bad.yaml", writer={"batch_size": 0})
    with run_daemon(config) as daemon:
        assert daemon.wait() == 2
        assert daemon.stderr == [
            f"informer-mirror: {config}: writer.batch_size: must be > 0 (got 0)"
        ]
        assert daemon.stdout == []


def test_a_missing_kubeconfig_exits_1_with_one_clear_line(tmp_path: Path) -> None:
    config = daemon_config(tmp_path, tmp_path / "no-such-kubeconfig")
    with run_daemon(config) as daemon:
        assert daemon.wait() == 1
        log = daemon.stderr
    assert not any("Traceback" in line for line in log), log
    assert log[-1] == (
        f"informer-mirror: cluster.kubeconfig: {tmp_path / 'no-such-kubeconfig'} does not exist "
        "(set cluster.kubeconfig or $KUBECONFIG to a readable kubeconfig file)"
    )
    assert [line for line in log if line.startswith("informer-mirror:")] == log[-1:]


def test_a_backend_unreachable_through_the_start_up_retries_exits_1_with_one_line(
    sim: SimHandle, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = daemon_config(
        tmp_path,
        sim.write_kubeconfig(tmp_path / "kubeconfig"),
        backend={"kind": "mongo", "uri": f"mongodb://127.0.0.1:{port}/", "timeout": 0.2},
        health={"max_retries": 2, "retry_delay": 0.1},
    )
    with run_daemon(config) as daemon:
        assert daemon.wait() == 1
        log = daemon.stderr
    assert not any("Traceback" in line for line in log), log
    assert log[-1].startswith(
        f"informer-mirror: backend mongo mongodb://127.0.0.1:{port}/: unreachable after 2 attempts:"
    ), log[-1]
    assert any("attempt 1 failed" in line for line in log), log
