"""Secrets never leak: unique values planted in Secrets (``data``, ``stringData``, annotations, the
``kubectl apply`` last-applied annotation) and in a ConfigMap's last-applied annotation must appear
nowhere the mirror writes or answers: the SQLite files (``.db``, ``-wal``, ``-shm``), any REST
response, ``/metrics``, or the daemon's log and stdout.

The real pipeline end to end: ``informer-mirror run`` in a subprocess (the daemon, logging at
DEBUG) against the simulated cluster over real HTTP, with Secrets configured at their most
exposed (``keep_raw: true``: the whole object stored next to the fields). Values are searched
for in every encoding a leak could take: plain, base64, and JSON-escaped.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

from informer_mirror.registry.redaction import LAST_APPLIED
from informer_mirror.sim import SimHandle
from tests.e2e.support import DaemonProcess, http_json, run_daemon, write_config
from tests.helpers import namespace_obj, wait_until


def canary(label: str) -> str:
    """A value that cannot occur by chance."""
    return f"canary-{label}-{secrets.token_hex(12)}"


def encodings(value: str) -> list[bytes]:
    """The forms a leaked value could take in a file, a response or a log line."""
    b64 = base64.b64encode(value.encode()).decode()
    return [value.encode(), b64.encode(), json.dumps(value)[1:-1].encode(), b64[:24].encode()]


class Planted:
    """The planted values, and the objects that carry them."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def new(self, label: str) -> str:
        self.values.append(canary(label))
        return self.values[-1]

    def secret(self, name: str) -> dict[str, Any]:
        password, token = self.new(f"{name}-data"), self.new(f"{name}-string")
        note = self.new(f"{name}-annotation")
        applied = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": "shop"},
            "stringData": {"password": self.new(f"{name}-applied")},
        }
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": "shop",
                "labels": {"app": "shop"},
                "annotations": {LAST_APPLIED: json.dumps(applied), "example.com/note": note},
            },
            "data": {"password": base64.b64encode(password.encode()).decode()},
            "stringData": {"token": token},
        }

    def configmap(self, name: str) -> dict[str, Any]:
        applied = {"kind": "ConfigMap", "data": {"dsn": self.new(f"{name}-applied")}}
        return {
            "metadata": {
                "name": name,
                "namespace": "shop",
                "annotations": {LAST_APPLIED: json.dumps(applied)},
            },
            "data": {"visible": "not-a-secret"},
        }


def leaks(planted: Planted, blob: bytes) -> list[str]:
    return [v for v in planted.values if any(form in blob for form in encodings(v))]


def every_api_body(daemon: DaemonProcess) -> bytes:
    """Every document the API serves, listed and one by one, plus /metrics and /status."""
    bodies: list[Any] = []
    for resource in ("secrets", "configmaps"):
        code, page = daemon.get(f"/api/v1/{resource}?limit=1000")
        assert code == 200, page
        bodies.append(page)
        for doc in page["items"]:
            code, one = daemon.get(f"/api/v1/{resource}/{doc['uid']}")
            assert code == 200, one
            bodies.append(one)
        bodies.append(daemon.get(f"/api/v1/namespaces/shop/{resource}?search=s")[1])
    for path in ("/api/v1/status", "/api/v1/resources", "/readyz", "/healthz"):
        bodies.append(daemon.get(path)[1])
    code, metrics = http_json(daemon.url + "/metrics")
    assert code == 200
    bodies.append(metrics)
    return json.dumps(bodies).encode() + str(metrics).encode()


def test_planted_secret_values_appear_in_no_file_response_metric_or_log_line(
    sim: SimHandle, tmp_path: Path
) -> None:
    planted = Planted()
    sim.state.create("namespaces", namespace_obj("shop"))
    for name in ("db-credentials", "api-token"):
        sim.state.create("secrets", planted.secret(name))
    sim.state.create("configmaps", planted.configmap("app-config"))
    database = tmp_path / "mirror.db"
    config = write_config(
        tmp_path / "mirror.yaml",
        cluster={"name": "leak-test", "kubeconfig": str(sim.write_kubeconfig(tmp_path / "kc"))},
        backend={"kind": "sqlite", "path": str(database)},
        resources={
            "include": ["namespaces", "secrets", "configmaps"],
            "overrides": {"secrets": {"keep_raw": True}, "configmaps": {"keep_raw": True}},
        },
        writer={"flush_interval": 0.05},
        api={"port": 0},
        logging={"level": "debug"},
    )
    with run_daemon(config) as daemon:
        daemon.wait_ready()
        # The watch path too: a Secret changed and one added while the daemon runs.
        changed = planted.secret("db-credentials")
        changed["metadata"]["resourceVersion"] = ""
        sim.state.update("secrets", changed)
        sim.state.create("secrets", planted.secret("late-token"))
        want = {
            o["metadata"]["uid"]: o["metadata"]["resourceVersion"]
            for o in sim.state.list_objects("secrets")
        }

        def mirrored() -> bool:
            code, page = daemon.get("/api/v1/secrets?limit=1000")
            return code == 200 and {d["uid"]: d["resourceVersion"] for d in page["items"]} == want

        wait_until(mirrored, timeout=15, message="the Secrets were not mirrored")
        served = every_api_body(daemon)
        files_while_running = b"".join(
            p.read_bytes() for p in tmp_path.glob("mirror.db*") if p.is_file()
        )
        assert daemon.terminate() == 0, daemon.stderr[-20:]
    # The mirror did store the Secrets (their keys and sizes): the test looks where values would be.
    assert b"db-credentials" in served and b"password" in served
    files = files_while_running + b"".join(
        p.read_bytes() for p in tmp_path.glob("mirror.db*") if p.is_file()
    )
    assert b"db-credentials" in files
    log = "\n".join(daemon.stderr + daemon.stdout).encode()
    assert b"secrets" in log  # the log is there and talks about the resource
    assert leaks(planted, files) == [], "a planted value is in the SQLite files"
    assert leaks(planted, served) == [], "a planted value is served by the API or /metrics"
    assert leaks(planted, log) == [], "a planted value is in the daemon's log"


def test_the_leak_detector_finds_a_value_in_any_of_its_encodings() -> None:
    planted = Planted()
    value = planted.new("probe")
    b64 = base64.b64encode(value.encode())
    for blob in (value.encode(), b64, json.dumps({"x": value}).encode(), b"xx" + b64 + b"yy"):
        assert leaks(planted, blob) == [value]
    assert leaks(planted, b"nothing to see") == []
