"""REST API throughput and latency against 100k documents in SQLite, beside a direct backend query.

What it measures, in one run, over the same SQLite file:

* ``api get``: ``GET /api/v1/pods/{uid}`` over real HTTP (keep-alive), random uids;
* ``api page``: ``GET /api/v1/pods?page=P&limit=100``, random pages;
* ``api page/ns``: the same in one namespace (``/api/v1/namespaces/{ns}/pods``), sorted by name;
* ``direct get`` / ``direct page`` / ``direct page/ns``: the same questions asked of
  ``SqliteBackend`` in-process (the floor: no HTTP, no validation, no JSON encoding);
* the API ones again with ``--clients`` concurrent keep-alive connections (throughput).

The API runs the production stack (``create_app`` + ``ApiServer``: Flask under waitress) in a child
process, so its GIL is not shared with the load generator; the client is ``http.client``, one
connection per client thread. Requests/s and p50/p99 latency per scenario; the ratio to the direct
query is the API's overhead. Documents are the registry's real Pod documents (~1.3 KB JSON each)
written with the backend's own ``apply``.

Run: ``python -m bench.api_throughput [--quick] [--docs N] [--requests N] [--clients N]``.
Prints a table, writes ``bench/results/api_throughput.json`` and, as its last line, a JSON object
with the headline numbers. ``--quick``: 10k documents, fewer requests, well under a minute.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.report import result_header

RESULTS = Path(__file__).resolve().parent / "results" / "api_throughput.json"
NAMESPACES = 50
BATCH = 5000


def raw_pod(rng: random.Random, i: int) -> dict[str, Any]:
    """A Pod as the API server would list it (status included, managedFields already gone)."""
    app = f"app-{i % 300:03d}"
    uid = f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-"
    uid += f"{rng.getrandbits(16):04x}-{rng.getrandbits(48):012x}"
    ready = i % 10 != 0
    return {
        "metadata": {
            "name": f"{app}-{rng.getrandbits(40):010x}",
            "namespace": f"team-{i % NAMESPACES:02d}",
            "uid": uid,
            "resourceVersion": str(1000 + i),
            "creationTimestamp": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
            "labels": {"app": app, "pod-template-hash": f"{i % 997:05d}", "tier": "web"},
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": f"{app}-rs", "uid": "rs-uid", "controller": True}
            ],
        },
        "spec": {
            "nodeName": f"node-{i % 200:03d}",
            "serviceAccountName": "default",
            "containers": [
                {"name": app, "image": f"registry.example.com/shop/{app}:1.{i % 9}"},
                {"name": "sidecar", "image": "registry.example.com/mesh/proxy:2.1"},
            ],
        },
        "status": {
            "phase": "Running" if ready else "Pending",
            "podIP": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
            "hostIP": f"192.168.{i % 200 // 256}.{i % 200}",
            "qosClass": "Burstable",
            "startTime": "2026-11-01T00:00:00Z",
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False"},
                {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": [
                {"name": app, "ready": ready, "restartCount": i % 3, "state": {"running": {}}},
                {"name": "sidecar", "ready": True, "restartCount": 0, "state": {"running": {}}},
            ],
        },
    }


def build_mirror(path: Path, docs: int) -> tuple[list[str], float, int]:
    """Write ``docs`` Pod documents into a new SQLite mirror; (uids, seconds, bytes per doc)."""
    from informer_mirror.backends.base import Upsert  # noqa: PLC0415
    from informer_mirror.backends.sqlite import SqliteBackend  # noqa: PLC0415
    from informer_mirror.registry import build_registry  # noqa: PLC0415
    from informer_mirror.settings import Settings  # noqa: PLC0415

    registry = build_registry(Settings())
    spec = registry["pods"]
    backend = SqliteBackend(path, cluster=registry.cluster)
    backend.ensure_schema(spec)
    rng = random.Random(42)
    uids: list[str] = []
    size = 0
    start = time.perf_counter()
    for first in range(0, docs, BATCH):
        batch = []
        for i in range(first, min(first + BATCH, docs)):
            doc = registry.to_document("pods", raw_pod(rng, i))
            body = orjson.dumps(doc)
            size += len(body)
            batch.append(Upsert(doc["uid"], doc["namespace"], doc["name"], "1", body))
            uids.append(doc["uid"])
        backend.apply(spec, batch, [])
    seconds = time.perf_counter() - start
    backend.close()
    return uids, seconds, size // max(docs, 1)


# -- the API server, in a child process ----------------------------------------------------------


class _Ready:
    """A StatusProvider of a mirror that is simply there (the bench measures reads only)."""

    def reflector_states(self) -> dict[str, Any]:
        return {}

    def store_sizes(self) -> dict[str, int]:
        return {}

    def writer_state(self) -> None:
        return None

    def backend_up(self) -> bool:
        return True

    def degraded(self) -> dict[str, str]:
        return {}

    def health_checks(self) -> dict[str, str | None]:
        return {}


def serve(path: str, threads: int, port_out: Any, stop: Any) -> None:
    """Child process: serve the mirror at ``path`` until ``stop`` is set."""
    from prometheus_client import CollectorRegistry  # noqa: PLC0415

    from informer_mirror.api import ApiServer, create_app  # noqa: PLC0415
    from informer_mirror.backends.sqlite import SqliteBackend  # noqa: PLC0415
    from informer_mirror.metrics import MirrorMetrics  # noqa: PLC0415
    from informer_mirror.registry import build_registry  # noqa: PLC0415
    from informer_mirror.settings import Settings  # noqa: PLC0415

    # under load waitress warns about every queued task: noise for a benchmark
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    registry = build_registry(Settings())
    backend = SqliteBackend(Path(path), cluster=registry.cluster)
    backend.ensure_schema(registry["pods"])
    app = create_app(
        registry=registry,
        backend=backend,
        status=_Ready(),
        metrics=MirrorMetrics(CollectorRegistry()),
    )
    server = ApiServer(app, port=0, threads=threads)
    server.start()
    port_out.send(server.port)
    stop.wait()
    server.stop()
    backend.close()


# -- measuring -----------------------------------------------------------------------------------


def summarize(name: str, latencies: list[float], wall: float, clients: int = 1) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "scenario": name,
        "clients": clients,
        "requests": len(ordered),
        "rps": len(ordered) / wall,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def run_http(port: int, paths: list[str], clients: int) -> tuple[list[float], float]:
    """GET every path over ``clients`` keep-alive connections; (latencies, wall seconds)."""
    chunks = [paths[i::clients] for i in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        out = latencies[n]
        for path in chunks[n]:
            started = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            out.append(time.perf_counter() - started)
            if response.status != 200:
                failures.append(f"{path}: {response.status} {body[:200]!r}")
        conn.close()

    threads = [
        threading.Thread(target=client, args=(n,), name=f"client-{n}") for n in range(clients)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return [x for chunk in latencies for x in chunk], wall


def run_direct(calls: list[Callable[[], object]]) -> tuple[list[float], float]:
    latencies = []
    start = time.perf_counter()
    for call in calls:
        started = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - started)
    return latencies, time.perf_counter() - start


def scenario_inputs(
    uids: list[str], docs: int, n: int, rng: random.Random
) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Per scenario: (URL path, direct-call arguments) pairs, the same for API and direct."""
    pages = max(1, docs // 100)
    per_ns_pages = max(1, docs // NAMESPACES // 100)
    out: dict[str, list[tuple[str, dict[str, Any]]]] = {"get": [], "page": [], "page/ns": []}
    for _ in range(n):
        uid = rng.choice(uids)
        out["get"].append((f"/api/v1/pods/{uid}", {"uid": uid}))
        page = rng.randint(1, pages)
        out["page"].append((f"/api/v1/pods?page={page}&limit=100", {"page": page}))
        ns = f"team-{rng.randrange(NAMESPACES):02d}"
        page = rng.randint(1, per_ns_pages)
        out["page/ns"].append(
            (
                f"/api/v1/namespaces/{ns}/pods?page={page}&limit=100&sort=name",
                {"page": page, "namespace": ns, "sort": "name"},
            )
        )
    return out


def measure(path: Path, uids: list[str], docs: int, n: int, clients: int) -> list[dict[str, Any]]:
    from informer_mirror.backends.sqlite import SqliteBackend  # noqa: PLC0415
    from informer_mirror.registry import build_registry  # noqa: PLC0415
    from informer_mirror.settings import Settings  # noqa: PLC0415

    rng = random.Random(7)
    inputs = scenario_inputs(uids, docs, n, rng)
    registry = build_registry(Settings())
    spec = registry["pods"]
    backend = SqliteBackend(path, cluster=registry.cluster)
    backend.ensure_schema(spec)

    def direct_call(kind: str, args: dict[str, Any]) -> Callable[[], object]:
        if kind == "get":
            return lambda: backend.get(spec, args["uid"])
        return lambda: backend.query(spec, limit=100, **args)

    ctx = multiprocessing.get_context("spawn")
    port_in, port_out = ctx.Pipe(duplex=False)
    stop = ctx.Event()
    child = ctx.Process(target=serve, args=(str(path), max(4, clients), port_out, stop))
    child.start()
    rows: list[dict[str, Any]] = []
    try:
        if not port_in.poll(120):
            raise SystemExit("the API server did not start")
        port = int(port_in.recv())
        for kind, pairs in inputs.items():
            urls = [url for url, _ in pairs]
            run_http(port, urls[: max(50, n // 10)], 1)  # warm up: connections, page cache
            latencies, wall = run_http(port, urls, 1)
            rows.append(summarize(f"api {kind}", latencies, wall))
            calls = [direct_call(kind, args) for _, args in pairs]
            run_direct(calls[: max(50, n // 10)])
            latencies, wall = run_direct(calls)
            rows.append(summarize(f"direct {kind}", latencies, wall))
            if clients > 1:
                latencies, wall = run_http(port, urls * 2, clients)
                rows.append(summarize(f"api {kind}", latencies, wall, clients))
    finally:
        stop.set()
        child.join(30)
        backend.close()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    direct = {r["scenario"].split()[1]: r for r in rows if r["scenario"].startswith("direct")}
    lines = [
        f"{'scenario':<16}{'clients':>8}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'vs direct':>11}"
    ]
    for r in rows:
        kind = r["scenario"].split()[1]
        ratio = ""
        if r["scenario"].startswith("api") and kind in direct:
            ratio = f"{r['rps'] / direct[kind]['rps']:.2f}x"
        lines.append(
            f"{r['scenario']:<16}{r['clients']:>8}{r['requests']:>10}{r['rps']:>10.0f}"
            f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{ratio:>11}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10k documents, fewer requests")
    parser.add_argument("--docs", type=int, help="documents in the mirror (default 100000)")
    parser.add_argument("--requests", type=int, help="requests per scenario (default 3000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections (4)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    docs = args.docs or (10_000 if args.quick else 100_000)
    n = args.requests or (600 if args.quick else 3000)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mirror.db"
        uids, seconds, size = build_mirror(path, docs)
        print(f"wrote {docs} Pod documents ({size} B JSON each) in {seconds:.1f} s", flush=True)
        rows = measure(path, uids, docs, n, args.clients)
    print()
    print(table(rows))
    by = {(r["scenario"], r["clients"]): r for r in rows}
    headline = {
        "docs": docs,
        "get_rps": round(by[("api get", 1)]["rps"]),
        "get_p99_ms": round(by[("api get", 1)]["p99_ms"], 2),
        "page100_rps": round(by[("api page", 1)]["rps"]),
        "page100_p99_ms": round(by[("api page", 1)]["p99_ms"], 2),
        "get_vs_direct": round(by[("api get", 1)]["rps"] / by[("direct get", 1)]["rps"], 3),
        "page100_vs_direct": round(by[("api page", 1)]["rps"] / by[("direct page", 1)]["rps"], 3),
    }
    result = {
        **result_header("api_throughput"),
        "sqlite": sqlite3.sqlite_version,
        "docs": docs,
        "doc_bytes": size,
        "requests_per_scenario": n,
        "rows": rows,
        "headline": headline,
    }
    if not args.quick or args.out != RESULTS:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
