"""Running the real ``informer-mirror`` command as a subprocess, and talking HTTP to it and the sim.

:class:`DaemonProcess` starts ``python -m informer_mirror run --config F`` (or ``demo``), pumps its
stderr and stdout into line lists on two threads (a full pipe would block it), finds the API's
URL in its log (the configurations use ``api.port: 0``), and answers plain HTTP requests. Used as
a context manager it never leaves a process behind. Waiting is always polling with a deadline.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from informer_mirror.kinds import BUILTIN_BY_PLURAL
from informer_mirror.sim import SimHandle
from tests.helpers import wait_until

REPO = Path(__file__).resolve().parents[2]
SYSTEMD_VARIABLES = ("NOTIFY_SOCKET", "JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID")
API_URL = re.compile(r"api: serving on (http://\S+)")


def write_config(path: Path, **sections: dict[str, Any]) -> Path:
    """A configuration file made of ``sections`` (YAML), for ``run --config``."""
    path.write_text(yaml.safe_dump(sections, sort_keys=False), encoding="utf-8")
    return path


def http_json(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """One request; the status and the decoded JSON body (text when it is not JSON)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        if "json" in response.getheader("Content-Type", ""):
            return response.status, json.loads(raw)
        return response.status, raw.decode()
    finally:
        conn.close()


class DaemonProcess:
    """``informer-mirror <args>`` running in a subprocess."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        environment = {k: v for k, v in os.environ.items() if k not in SYSTEMD_VARIABLES}
        # The checkout on the path: the test venv need not have the package installed.
        environment["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO), environment.get("PYTHONPATH", "")) if p
        )
        environment.update(env or {})
        self.args = args
        self.process = subprocess.Popen(
            [sys.executable, "-m", "informer_mirror", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        self._lock = threading.Lock()
        self._out: list[str] = []
        self._err: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.process.stdout, self._out)),
            threading.Thread(target=self._pump, args=(self.process.stderr, self._err)),
        ]
        for pump in self._pumps:
            pump.start()
        self._url: str | None = None

    def _pump(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            with self._lock:
                lines.append(line.rstrip("\n"))

    @property
    def stderr(self) -> list[str]:
        """Every stderr line so far (the log)."""
        with self._lock:
            return list(self._err)

    @property
    def stdout(self) -> list[str]:
        """Every stdout line so far."""
        with self._lock:
            return list(self._out)

    def log_match(self, pattern: str | re.Pattern[str], timeout: float = 15) -> re.Match[str]:
        """Wait for a stderr line matching ``pattern``; the match."""
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            if self.process.poll() is not None and not any(p.is_alive() for p in self._pumps):
                raise AssertionError(f"exited {self.process.returncode}: {self.stderr[-20:]}")
            return next((m for line in self.stderr if (m := regex.search(line))), None)

        return wait_until(found, timeout, message=f"no log line matching {regex.pattern!r}")

    @property
    def url(self) -> str:
        """The API's base URL, read from the log."""
        if self._url is None:
            self._url = self.log_match(API_URL).group(1)
        return self._url

    def get(self, path: str) -> tuple[int, Any]:
        """GET ``path`` from the API."""
        return http_json(self.url + path)

    def wait_ready(self, timeout: float = 15) -> dict[str, Any]:
        """Poll /readyz until it answers 200; its body."""

        def ready() -> dict[str, Any] | None:
            if self.process.poll() is not None:
                raise AssertionError(f"exited {self.process.returncode}: {self.stderr[-20:]}")
            code, body = self.get("/readyz")
            return body if code == 200 else None

        result: dict[str, Any] = wait_until(ready, timeout, interval=0.05, message="not ready")
        return result

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process."""
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the exit (and the end of its output); the exit code."""
        code = self.process.wait(timeout)
        for pump in self._pumps:
            pump.join(timeout)
        return code

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, then wait; the exit code."""
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> int:
        """SIGKILL, then wait; the exit code."""
        self.process.kill()
        return self.wait()

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            self.kill()
        for pump in self._pumps:
            pump.join(10)


def run_daemon(config: Path, *, env: dict[str, str] | None = None) -> DaemonProcess:
    """``informer-mirror run --config config`` as a subprocess."""
    return DaemonProcess("run", "--config", str(config), env=env)


def collection_path(resource: str, namespace: str | None = None) -> str:
    """The Kubernetes API path of a built-in resource's collection."""
    kind = BUILTIN_BY_PLURAL[resource]
    base = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    if namespace is not None and kind.namespaced:
        return f"{base}/namespaces/{namespace}/{resource}"
    return f"{base}/{resource}"


def sim_request(
    sim: SimHandle,
    method: str,
    resource: str,
    namespace: str | None,
    name: str = "",
    body: Any = None,
) -> Any:
    """Create (POST), replace (PUT) or delete (DELETE) an object through the sim's HTTP API."""
    path = collection_path(resource, namespace) + (f"/{name}" if name else "")
    code, answer = http_json(sim.url + path, method, body)
    assert 200 <= code < 300, (code, answer)
    return answer


def mirror_differences(
    daemon: DaemonProcess, sim: SimHandle, resources: Iterable[str]
) -> list[str]:
    """How the API's documents differ from the sim's objects (uids, names, namespaces,
    resourceVersions, kinds, labels); empty when the mirror is exact."""
    differences: list[str] = []
    snapshot = sim.state.snapshot()
    for resource in resources:
        kind = BUILTIN_BY_PLURAL[resource]
        expected = {o["metadata"]["uid"]: o for o in snapshot.get(resource, {}).values()}
        code, page = daemon.get(f"/api/v1/{resource}?limit=1000")
        if code != 200:
            differences.append(f"{resource}: HTTP {code}: {page}")
            continue
        served = {doc["uid"]: doc for doc in page["items"]}
        if page["total"] != len(served):
            differences.append(f"{resource}: more than one page ({page['total']})")
        for uid in expected.keys() - served.keys():
            differences.append(f"{resource}: {uid} missing")
        for uid in served.keys() - expected.keys():
            differences.append(f"{resource}: {uid} ({served[uid]['name']}) should be gone")
        for uid in expected.keys() & served.keys():
            meta, doc = expected[uid]["metadata"], served[uid]
            want = {
                "name": meta["name"],
                "namespace": meta.get("namespace") or None,
                "resourceVersion": meta["resourceVersion"],
                "kind": kind.kind,
                "apiVersion": kind.api_version,
                "labels": meta.get("labels") or {},
            }
            got = {field: doc.get(field) for field in want}
            if got != want:
                differences.append(f"{resource}/{meta['name']}: {got} != {want}")
    return differences
