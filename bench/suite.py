"""The benchmark suite behind ``python -m bench``: every scenario, mirror and naive baseline side by
side in one run, against the same simulated cluster over real HTTP, into SQLite files.

Processes (``spawn``, so heaps and GILs do not mix): one simulated cluster per cluster size
(populated once, driven through a pipe), and per approach one client process that lives through
the scenarios in order, then one more for the warm restart:

0. the ceiling: a bare paginated list of the sim's Pods (no processing, nothing kept), i.e. how
   fast the simulated API server itself serves them on this machine;
1. initial sync: from start until every Pod of the first list is in the backend (the mirror:
   ``BatchWriter.first_full_sync_flushed``; the baseline: its last upsert), objects/s; resident
   memory growth per mirrored object (RSS after ``gc.collect()``, before start vs. after sync);
   with ``Plan.runs`` > 1, more first syncs follow (after 5.), each by a new process into a new
   file, and the median is reported;
2. sustained churn: the client's watch is held (the sim's stall fault) while ``events`` distinct
   Pods are updated once each, then released: events/s from the release until the backend holds
   the last of them (each write is timed by resourceVersion at the backend seam); ``Plan.runs``
   bursts, the median reported;
3. latency: ``paced`` distinct Pods updated at ``rate`` events/s; per event, the time from the
   sim's update to the backend acknowledging the write carrying that resourceVersion (the clocks
   are ``CLOCK_MONOTONIC``, shared by processes on one machine); p50 and p99;
4. the longest GC pause over the whole client run (``gc.callbacks``; forced collections of the
   RSS probe excluded), and how many collections ran;
5. warm restart with nothing changed: a fresh client on the same SQLite file: seconds until the
   first full list is mirrored and how many documents it wrote; with ``--profile`` one more
   initial sync of the mirror into a new file under a sampling profiler (not the timed one);
6. REST: ``bench.api_throughput``'s single GET and 100-item page over HTTP, beside the direct
   backend query (the API has no naive twin: the old system had no API).

The mirror is wired as the daemon wires it, Prometheus hooks included (``bench.pipeline``).
Reuses ``bench.baseline`` (the naive old system), ``bench.sync_throughput`` (backend opening, the
sampling profiler), ``bench.listwatch`` (the RSS probe) and ``bench.api_throughput``.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.polling import wait_until


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What one run measures."""

    sizes: tuple[int, ...]
    """Cluster sizes in Pods; the mirror runs at each."""
    naive_max: int
    """The baseline runs only at sizes up to this (it is ~40x slower)."""
    events: int
    """Distinct Pods updated in the sustained-churn burst."""
    paced: int
    """Events sent at ``rate`` for the latency scenario."""
    rate: float
    """Events/s of the latency scenario."""
    api_docs: int
    api_requests: int
    api_clients: int
    profile: bool
    runs: int = 1
    """Initial syncs (each by a fresh client process) and churn bursts per approach and size;
    the median is reported, every sample kept (``*_runs``). On a shared 2-core machine one
    sub-second sample can be 30% off its neighbours."""
    seed: int = 7


# ---- the simulated cluster (child process) ---------------------------------------------------


def _sim_main(conn: Connection, pods: int, history: int, seed: int) -> None:
    from bench.cluster import populate_pods, serve_sim  # noqa: PLC0415
    from informer_mirror.sim import start_sim  # noqa: PLC0415 - child process only
    from informer_mirror.sim.state import ClusterState  # noqa: PLC0415

    rng = random.Random(seed)
    state = ClusterState(history_size=history)
    populate_pods(state, pods, rng)
    sim = start_sim(state=state, bookmark_interval=60.0)
    serial = 0

    def touch(pod: dict[str, Any]) -> str:
        nonlocal serial
        serial += 1
        pod["metadata"].setdefault("labels", {})["bench-serial"] = str(serial)
        return str(state.update("pods", pod)["metadata"]["resourceVersion"])

    def churn(n: int) -> float:
        """``n`` distinct Pods, once each, as fast as the sim can: seconds taken."""
        chosen = rng.sample(state.list_objects("pods"), n)
        started = time.perf_counter()
        for pod in chosen:
            touch(pod)
        return time.perf_counter() - started

    def paced(arg: tuple[int, float]) -> dict[str, float]:
        """``n`` distinct Pods at ``rate``/s: ``{resourceVersion: sent at}``."""
        n, rate = arg
        chosen = rng.sample(state.list_objects("pods"), n)
        sent: dict[str, float] = {}
        start = time.monotonic()
        for i, pod in enumerate(chosen):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing the updates at the rate, not waiting for a condition
            rv = touch(pod)
            sent[rv] = time.monotonic()
        return sent

    conn.send("ready")
    serve_sim(
        conn,
        sim,
        {"rv": lambda _arg: state.resource_version, "churn": churn, "paced": paced},
    )


# ---- what every client process shares ---------------------------------------------------------


class Recorder:
    """Times the backend writes of resourceVersions above a base, until ``count`` have landed."""

    def __init__(self) -> None:
        self._base: int | None = None
        self._count = 0
        self.times: dict[str, float] = {}
        self.done = threading.Event()

    def arm(self, base: int, count: int) -> None:
        self.times = {}
        self._count = count
        self.done.clear()
        self._base = base

    def record(self, rv: str, now: float) -> None:
        base = self._base
        if base is not None and int(rv) > base and rv not in self.times:
            self.times[rv] = now
            if len(self.times) >= self._count:
                self._base = None
                self.done.set()


class GcWatch:
    """The longest garbage-collection pause (``gc.callbacks``), forced collections excluded."""

    def __init__(self) -> None:
        self.max_s = 0.0
        self.collections = 0
        self.paused = False
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, Any]) -> None:
        if self.paused:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.collections += 1
            self.max_s = max(self.max_s, time.perf_counter() - self._started)

    def rss(self) -> int:
        from bench.listwatch import _rss  # noqa: PLC0415 - reuse the probe (private there)

        self.paused = True
        try:
            return _rss()
        finally:
            self.paused = False


class _RecordingBackend:
    """The mirror's backend, timing each acknowledged upsert by resourceVersion and counting
    writes (a seam wrapper: the writer sees the Backend protocol)."""

    def __init__(self, inner: Any, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder
        self.written = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def apply(self, spec: Any, upserts: Any, deletes: Any) -> Any:
        result = self._inner.apply(spec, upserts, deletes)
        now = time.monotonic()
        self.written += len(upserts) + len(deletes)
        for upsert in upserts:
            self._recorder.record(upsert.resource_version, now)
        return result


def _serve_commands(conn: Connection, recorder: Recorder, gcw: GcWatch) -> None:
    """The scenario protocol after the initial sync: arm, wait, stop."""
    while True:
        command, arg = conn.recv()
        if command == "arm":
            recorder.arm(*arg)
            conn.send("armed")
        elif command == "wait":
            ok = recorder.done.wait(600)
            times = recorder.times
            conn.send(
                {
                    "ok": ok,
                    "last": max(times.values(), default=0.0),
                    "times": times if arg else None,
                }
            )
        else:
            conn.send({"gc_max_ms": gcw.max_s * 1000, "gc_collections": gcw.collections})
            return


# ---- the mirror (child process) ---------------------------------------------------------------


def _mirror_client(conn: Connection, kubeconfig: str, where: str, mode: str, profile: bool) -> None:
    from bench.pipeline import pod_pipeline  # noqa: PLC0415 - child process only
    from bench.sync_throughput import _open_backend, _Sampler  # noqa: PLC0415 - reuse
    from informer_mirror import gctuning  # noqa: PLC0415
    from informer_mirror.kube import KubeClient  # noqa: PLC0415

    gcw = GcWatch()
    gc.callbacks.append(gcw)
    recorder = Recorder()
    backend = _RecordingBackend(_open_backend("sqlite", where), recorder)
    client = KubeClient.from_kubeconfig(kubeconfig)
    # a seam wrapper with the Backend methods
    pipeline = pod_pipeline(client, backend)  # type: ignore[arg-type]
    informer, writer = pipeline.informer, pipeline.writer
    gctuning.tune_process()  # as `informer-mirror run` does before it starts anything
    rss0 = gcw.rss()
    sampler = _Sampler() if profile else None
    started = time.perf_counter()
    if sampler is not None:
        sampler.start()
    writer.start()
    informer.start()
    assert informer.wait_for_sync(3600)
    wait_until(lambda: writer.first_full_sync_flushed, "the writer's first full sync")
    sync_s = time.perf_counter() - started
    report = sampler.stop() if sampler is not None else ""
    objects = len(informer.store)
    conn.send(
        {
            "sync_s": sync_s,
            "objects": objects,
            "written": backend.written,
            "rss_per_obj": (gcw.rss() - rss0) / max(objects, 1),
            "profile": report,
        }
    )
    if mode == "full":
        _serve_commands(conn, recorder, gcw)
    informer.stop()
    informer.join(10)
    writer.stop(drain_timeout=5)
    client.close()


# ---- the naive baseline (child process) -------------------------------------------------------


def _naive_client(conn: Connection, kubeconfig: str, where: str, mode: str, _profile: bool) -> None:
    from bench.baseline import NaiveMirror  # noqa: PLC0415

    gcw = GcWatch()
    gc.callbacks.append(gcw)
    recorder = Recorder()
    naive = NaiveMirror(kubeconfig, "sqlite", where)
    rss0 = gcw.rss()
    started = time.perf_counter()
    list_rv = naive.initial_sync()
    sync_s = time.perf_counter() - started
    conn.send(
        {
            "sync_s": sync_s,
            "objects": naive.sink.writes,
            "written": naive.sink.writes,
            "rss_per_obj": (gcw.rss() - rss0) / max(naive.sink.writes, 1),
            "profile": "",
        }
    )
    if mode == "full":

        def on_written(rv: str) -> bool:
            recorder.record(rv, time.monotonic())
            return True

        def watch_until_closed() -> None:
            try:
                naive.run_watch(list_rv, on_written)
            except Exception:  # the sim closing the stream at the end of the run
                return

        watch = threading.Thread(target=watch_until_closed, name="naive-watch", daemon=True)
        watch.start()
        _serve_commands(conn, recorder, gcw)
        naive.stop_watch()  # the watch thread is a daemon: the process ends with it
    naive.sink.close()


CLIENTS = {"mirror": _mirror_client, "naive": _naive_client}


# ---- orchestration ----------------------------------------------------------------------------


class _Peer:
    """A child process behind a pipe: ``call(command, arg)`` sends and waits for the answer."""

    def __init__(self, ctx: Any, target: Any, *args: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child, *args))
        self.proc.start()

    def recv(self, timeout: float = 3600) -> Any:
        if not self.conn.poll(timeout):
            raise SystemExit(f"{self.proc.name} did not answer within {timeout:.0f} s")
        return self.conn.recv()

    def call(self, command: str, arg: Any = None) -> Any:
        self.conn.send((command, arg))
        return self.recv()

    def close(self) -> None:
        self.proc.join(60)
        if self.proc.is_alive():
            self.proc.kill()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def run_approach(
    ctx: Any, sim: _Peer, approach: str, pods: int, plan: Plan, log: Any, scratch: Path
) -> dict[str, Any]:
    """Every pipeline scenario for one approach against the running sim; one result row. Its
    databases go into ``scratch``."""
    kubeconfig = sim.call("kubeconfig")
    where = str(scratch / "mirror.db")
    sim.call("stall")  # hold the client's watch until the burst is made
    client = _Peer(ctx, CLIENTS[approach], kubeconfig, where, "full", False)
    synced = client.recv()
    log(f"  {approach:<6} {pods} Pods: initial sync {synced['sync_s']:.2f} s")
    events = min(plan.events, pods)
    bursts: list[float] = []
    churns: list[float] = []
    ok = True
    for run in range(plan.runs):
        if run:
            sim.call("stall")  # the open watch holds the next burst
        client.call("arm", (sim.call("rv"), events))
        churns.append(sim.call("churn", events))
        released = time.monotonic()
        sim.call("unstall")
        burst = client.call("wait", False)
        ok = ok and burst["ok"]
        bursts.append(burst["last"] - released)
        log(f"  {approach:<6} {events} events in {bursts[-1]:.2f} s")
    events_s = statistics.median(bursts)
    paced = min(plan.paced, pods)
    client.call("arm", (sim.call("rv"), paced))
    sent = sim.call("paced", (paced, plan.rate))
    timed = client.call("wait", True)
    latencies = [timed["times"][rv] - at for rv, at in sent.items() if rv in timed["times"]]
    ended = client.call("stop")
    client.close()
    restarted = _Peer(ctx, CLIENTS[approach], kubeconfig, where, "restart", False)
    again = restarted.recv()
    restarted.close()
    _remove_database(where)
    log(f"  {approach:<6} warm restart {again['sync_s']:.2f} s, {again['written']} written")
    syncs = [synced["sync_s"]]
    for run in range(1, plan.runs):  # a fresh process and file each: every sync is a first one
        fresh = str(scratch / f"sync-{run}.db")
        resynced = _Peer(ctx, CLIENTS[approach], kubeconfig, fresh, "sync", False)
        syncs.append(resynced.recv()["sync_s"])
        resynced.close()
        _remove_database(fresh)
        log(f"  {approach:<6} {pods} Pods: initial sync {syncs[-1]:.2f} s")
    sync_s = statistics.median(syncs)
    profile = ""
    if plan.profile and approach == "mirror":  # a separate run: the sampler costs CPU
        fresh = str(scratch / "profile.db")
        profiled = _Peer(ctx, CLIENTS[approach], kubeconfig, fresh, "sync", True)
        profile = profiled.recv()["profile"]
        profiled.close()
        _remove_database(fresh)
    return {
        "approach": approach,
        "pods": pods,
        "sync_s": sync_s,
        "sync_s_runs": syncs,
        "sync_objects_per_s": synced["objects"] / sync_s,
        "rss_kib_per_object": synced["rss_per_obj"] / 1024,
        "events": events,
        "events_ok": ok,
        "events_s": events_s,
        "events_s_runs": bursts,
        "events_per_s": events / events_s,
        "sim_churn_events_per_s": events / statistics.median(churns),
        "latency_rate": plan.rate,
        "latency_events": len(latencies),
        "latency_ok": timed["ok"],
        "latency_p50_s": _percentile(latencies, 0.5),
        "latency_p99_s": _percentile(latencies, 0.99),
        "latency_max_s": max(latencies, default=float("nan")),
        "gc_max_pause_ms": ended["gc_max_ms"],
        "gc_collections": ended["gc_collections"],
        "restart_ready_s": again["sync_s"],
        "restart_written": again["written"],
        "profile": profile,
    }


def _remove_database(path: str) -> None:
    """Delete a finished sample's SQLite file (and its WAL), so that no sample runs while the
    kernel writes back an earlier one's ~300 MB (100k Pods): each starts from the same disk.

    The later 100k-Pod samples of a run were the slower ones, and in one test (two syncs, 40k
    updates in the sim, three syncs) they were so only while the earlier files were kept:
    20.6k and 20.7k then 17.6k-18.5k objects/s, against 18.1k-18.5k then 18.2k-19.0k with each
    file deleted. In full runs with this deletion the later samples were still 5-10% slower, so
    the files are not the whole cause (the sim's state after the churn is the other suspect)."""
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


def sim_ceiling(sim: _Peer) -> float:
    """Objects/s of a bare paginated list of the sim's Pods (http.client, items counted, not
    decoded): what the simulated API server itself can serve, the ceiling of any initial sync."""
    import http.client  # noqa: PLC0415
    from urllib.parse import quote, urlsplit  # noqa: PLC0415

    import orjson  # noqa: PLC0415
    import yaml  # noqa: PLC0415

    with open(sim.call("kubeconfig"), encoding="utf-8") as f:
        server = urlsplit(yaml.safe_load(f)["clusters"][0]["cluster"]["server"])
    conn = http.client.HTTPConnection(server.hostname or "127.0.0.1", server.port, timeout=600)
    started = time.perf_counter()
    token, objects = "", None
    while True:
        conn.request(
            "GET", "/api/v1/pods?limit=500" + (f"&continue={quote(token)}" if token else "")
        )
        body = conn.getresponse().read()
        # Only the list's metadata is decoded (it precedes the items): decoding the items is
        # the client's work, and this measures the server.
        meta = orjson.loads(body[: body.index(b',"items":[')] + b"}")["metadata"]
        token = meta.get("continue") or ""
        if objects is None:  # page 1 says how many follow
            if token:
                objects = 500 + meta["remainingItemCount"]
            else:
                objects = len(orjson.loads(body)["items"])
        if not token:
            break
    conn.close()
    return objects / (time.perf_counter() - started)


def run_pipeline(plan: Plan, log: Any) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    rows = []
    for pods in plan.sizes:
        started = time.perf_counter()
        history = plan.runs * plan.events + plan.paced + 10_000
        sim = _Peer(ctx, _sim_main, pods, history, plan.seed)
        sim.recv()
        log(f"cluster of {pods} Pods populated in {time.perf_counter() - started:.1f} s")
        try:
            ceiling = sim_ceiling(sim)
            log(f"  sim    bare paginated list: {ceiling:.0f} objects/s")
            for approach in ("mirror", "naive"):
                if approach == "naive" and pods > plan.naive_max:
                    continue
                # the databases are removed with the scratch directory (100k Pods: ~250 MB)
                with tempfile.TemporaryDirectory(prefix=f"bench-{approach}-") as scratch:
                    rows.append(run_approach(ctx, sim, approach, pods, plan, log, Path(scratch)))
                rows[-1]["sim_list_objects_per_s"] = ceiling
        finally:
            sim.conn.send(("stop", None))
            sim.close()
    return rows


def run_api(plan: Plan, log: Any) -> list[dict[str, Any]]:
    from bench import api_throughput  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mirror.db"
        uids, seconds, _size = api_throughput.build_mirror(path, plan.api_docs)
        log(f"REST: {plan.api_docs} documents written in {seconds:.1f} s")
        rows = api_throughput.measure(
            path, uids, plan.api_docs, plan.api_requests, plan.api_clients
        )
    for row in rows:
        row["docs"] = plan.api_docs
    return rows
