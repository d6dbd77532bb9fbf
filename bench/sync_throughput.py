"""Mirror throughput: initial sync objects/s and watch events/s into each backend, next to the naive
"old system", in the same run, against the same simulated cluster over real HTTP.

What is compared, per backend (SQLite on a file; MongoDB: a real server with ``--mongo-uri``, else
``bench/mongo_stub.py``, a zero-latency wire-protocol stand-in that acknowledges every write and
stores nothing, so the MongoDB numbers are pymongo's and our client-side cost; mongomock is no
yardstick here, its ``_id`` lookups and unique checks scan the whole collection):

* ``mirror``: informer-mirror's pipeline as the daemon wires it: ``KubeListerWatcher`` ->
  ``Informer`` (registry transform into the ``Store``) -> ``WorkQueue`` -> ``BatchWriter``
  (default ``writer:`` settings: batches of 2000, 0.25 s) -> ``Backend.apply``, with the
  daemon's Prometheus hooks (``bench/pipeline.py``);
* ``naive``: the seed's "old system": the official client on typed models
  (``list_pod_for_all_namespaces`` pages of 500, then ``watch.Watch().stream``), each object turned
  back into a dict (``sanitize_for_serialization``), transformed by the same registry transformer,
  and written with one upsert per object (SQLite: ``INSERT OR REPLACE`` in its own transaction;
  MongoDB: ``find_one_and_update(upsert=True)``, as the seed's old code did).

Measurements, each client in a fresh child process (the simulated cluster runs in its own):

* initial sync: from start until every Pod of the list is in the backend (the mirror: the writer's
  ``first_full_sync_flushed``), objects/s;
* events: the client's watch is held (the sim's stall fault) while ``--events`` Pods are each
  updated once (distinct Pods: no coalescing helps), then released; events/s from the first event
  received until the backend holds every update (checked against the sim's truth at the end);
* ``in-memory API`` (mirror): the same Informer -> Store -> WorkQueue -> BatchWriter -> backend,
  fed list pages and watch events recorded as raw bytes beforehand (decoded as ``kube/`` decodes
  them): the mirror's own work without the simulated server;
* ``writer only`` (mirror): a Store already holding the Pods, flushed by a BatchWriter: the part of
  the pipeline the writer and backends own, without HTTP, JSON decoding and transforms.

Run: ``python -m bench.sync_throughput`` (10k Pods, 10k events) or ``--quick`` (3k Pods, 3k events,
smaller naive runs). Prints a table, writes ``bench/results/sync_throughput[_quick].json``, and
ends with one JSON line of the headline ratios for SQLite: ``{"sync_ratio": ..., "events_ratio":
...}``. Where the time goes: ``--stages`` times each step of an initial sync one after the other on
one thread (``bench/results/sync_stages.json``); ``--profile`` samples every thread of the mirror's
initial sync. The mirror's processes tune the garbage collector as ``informer-mirror run`` does
(``informer_mirror/gctuning.py``); ``--default-gc`` leaves CPython's defaults, to see what that
tuning is worth.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench import mongo_stub
from bench.polling import wait_until
from bench.report import result_header
from informer_mirror.settings import WriterSettings

RESULTS = Path(__file__).resolve().parent / "results"
PAGE = 500


# ---- the simulated cluster (child process) ---------------------------------------------------


def _sim_main(conn: Connection, pods: int, events: int, seed: int) -> None:
    from bench.cluster import populate_pods, serve_sim  # noqa: PLC0415
    from informer_mirror.sim import start_sim  # noqa: PLC0415 - child process only
    from informer_mirror.sim.state import ClusterState  # noqa: PLC0415

    rng = random.Random(seed)
    state = ClusterState(history_size=events + 10_000)
    populate_pods(state, pods, rng)
    sim = start_sim(state=state, bookmark_interval=60.0)
    serial = 0

    def churn(n: int) -> float:
        """Update ``n`` distinct Pods once each: seconds taken."""
        nonlocal serial
        population = state.list_objects("pods")
        chosen = rng.sample(population, min(n, len(population)))
        started = time.perf_counter()
        for pod in chosen:
            serial += 1
            pod["metadata"].setdefault("labels", {})["bench-serial"] = str(serial)
            pod.setdefault("status", {})["phase"] = rng.choice(["Running", "Failed"])
            state.update("pods", pod)
        return time.perf_counter() - started

    def truth(_arg: Any) -> dict[str, str]:
        return {
            p["metadata"]["uid"]: p["metadata"]["resourceVersion"]
            for p in state.list_objects("pods")
        }

    conn.send({"url": sim.url})
    serve_sim(conn, sim, {"churn": churn, "truth": truth})


# ---- backends ----------------------------------------------------------------------------------


def _open_backend(kind: str, where: str) -> Any:
    """The mirror's backend: ``sqlite`` (file ``where``) or ``mongo`` (URI ``where``)."""
    from informer_mirror.backends import SqliteBackend  # noqa: PLC0415
    from informer_mirror.backends.mongo import MongoBackend  # noqa: PLC0415
    from informer_mirror.settings import MongoBackendSettings  # noqa: PLC0415

    if kind == "sqlite":
        return SqliteBackend(Path(where), cluster="bench")
    settings = MongoBackendSettings(uri=where, database="bench")
    return MongoBackend.from_settings(settings, cluster="bench")


# ---- the mirror (child process) ---------------------------------------------------------------


def _tune_gc(tuned: bool) -> None:
    """What ``informer-mirror run`` does before it starts anything (unless ``--default-gc``)."""
    if tuned:
        from informer_mirror import gctuning  # noqa: PLC0415

        gctuning.tune_process()


class _Sampler:
    """A sampling profiler over every thread (cProfile sees only the thread that enables it):
    every millisecond, which function each thread is in, and which functions are on its stack."""

    def __init__(self, interval: float = 0.001) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._own: dict[tuple[str, str], int] = {}
        self._inclusive: dict[tuple[str, str], int] = {}
        self._samples: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.wait(self._interval):
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                thread = names.get(ident, "?").split("/")[0].rstrip("0123456789-")
                self._samples[thread] = self._samples.get(thread, 0) + 1
                leaf = f"{frame.f_code.co_filename.rsplit('/', 2)[-1]}:{frame.f_code.co_name}"
                key = (thread, leaf)
                self._own[key] = self._own.get(key, 0) + 1
                seen = set()
                f: Any = frame
                while f is not None:
                    name = f"{f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_code.co_name}"
                    if name not in seen:
                        seen.add(name)
                        k = (thread, name)
                        self._inclusive[k] = self._inclusive.get(k, 0) + 1
                    f = f.f_back

    def stop(self) -> str:
        self._stop.set()
        self._thread.join()
        lines = []
        for thread, total in sorted(self._samples.items(), key=lambda kv: -kv[1]):
            if thread in ("MainThread", "?") or total < 10:
                continue
            lines.append(f"thread {thread}: {total} samples; own time (inclusive)")
            own = [(k[1], n) for k, n in self._own.items() if k[0] == thread]
            for name, n in sorted(own, key=lambda kv: -kv[1])[:14]:
                inclusive = self._inclusive.get((thread, name), n)
                lines.append(f"  {100 * n / total:5.1f}% ({100 * inclusive / total:5.1f}%) {name}")
        return "\n".join(lines)


def _landed(informer: Any, writer: Any, rv: int) -> bool:
    """Every event up to ``rv`` is in the Store, and every key it queued is written."""
    status = writer.status()
    return (
        int(informer.store.last_resource_version or 0) >= rv
        and status.queue_depth == 0
        and status.in_flight == 0
    )


def _mirror_client(
    conn: Connection,
    kubeconfig: str,
    kind: str,
    where: str,
    profile: bool,
    verify: bool,
    tuned_gc: bool,
) -> None:
    from bench.pipeline import pod_pipeline  # noqa: PLC0415
    from informer_mirror.informer.informer import EventHandler  # noqa: PLC0415
    from informer_mirror.kube import KubeClient  # noqa: PLC0415

    backend = _open_backend(kind, where)
    client = KubeClient.from_kubeconfig(kubeconfig)
    pipeline = pod_pipeline(client, backend)
    spec, informer, writer = pipeline.spec, pipeline.informer, pipeline.writer
    _tune_gc(tuned_gc)
    first_event = threading.Event()
    first_at = 0.0

    def on_update(_old: Any, _new: Any) -> None:
        nonlocal first_at
        if not first_event.is_set():
            first_at = time.perf_counter()
            first_event.set()

    informer.add_event_handler(EventHandler(on_update=on_update))
    sampler = _Sampler() if profile else None
    started = time.perf_counter()
    if sampler is not None:
        sampler.start()
    writer.start()
    informer.start()
    assert informer.wait_for_sync(3600)
    listed = time.perf_counter()
    wait_until(lambda: writer.first_full_sync_flushed, "the writer's first full sync")
    synced = time.perf_counter()
    report = sampler.stop() if sampler is not None else ""
    conn.send({"list_s": listed - started, "sync_s": synced - started, "profile": report})
    target = conn.recv()  # {uid: rv} of the Pods after the churn; the watch is released now
    last_rv = max(int(rv) for rv in target.values())
    assert first_event.wait(3600)
    wait_until(lambda: _landed(informer, writer, last_rv), "the churn's last write")
    done = time.perf_counter()
    if verify:
        assert backend.versions(spec) == target, "the mirror differs from the cluster"
    conn.send({"events_s": done - first_at})
    informer.stop()
    informer.join(10)
    writer.stop(drain_timeout=5)
    client.close()


def _writer_only(conn: Connection, kubeconfig: str, kind: str, where: str, tuned_gc: bool) -> None:
    """The writer and backend alone: a Store already holding the Pods, flushed in full."""
    from informer_mirror.informer.store import Store  # noqa: PLC0415
    from informer_mirror.informer.workqueue import WorkQueue  # noqa: PLC0415
    from informer_mirror.kube import ApiResource, KubeClient, KubeListerWatcher  # noqa: PLC0415
    from informer_mirror.registry import build_registry  # noqa: PLC0415
    from informer_mirror.settings import ClusterSettings, Settings  # noqa: PLC0415
    from informer_mirror.writer import BatchWriter  # noqa: PLC0415

    registry = build_registry(Settings(cluster=ClusterSettings(name="bench")))
    spec = registry["pods"]
    client = KubeClient.from_kubeconfig(kubeconfig)
    lw = KubeListerWatcher(client, ApiResource.from_kind(spec.kind_info), schema=spec.decode_schema)
    items: list[dict[str, Any]] = []
    token = None
    while True:
        page = lw.list_page(resource_version=None, limit=PAGE, continue_token=token)
        items.extend(page.items)
        token = page.continue_token
        if not token:
            break
    client.close()
    store = Store(name="pods", transform=registry.transform_for("pods"))
    store.replace(items, "1")
    del items
    _tune_gc(tuned_gc)

    class Source:
        has_synced = True

    source = Source()
    source.store = store  # type: ignore[attr-defined]
    queue: WorkQueue[Any] = WorkQueue(name="mirror")
    for record in store.list_stored():
        queue.add(("pods", record.key))
    backend = _open_backend(kind, where)
    writer = BatchWriter(
        backend=backend, queue=queue, specs=[spec], sources={"pods": source}, cluster="bench"
    )
    started = time.perf_counter()
    writer.start()
    wait_until(lambda: writer.first_full_sync_flushed, "the writer's first full sync")
    conn.send({"writer_s": time.perf_counter() - started, "objects": len(store)})
    writer.stop(drain_timeout=5)


class _MemoryListerWatcher:
    """The API from memory: list pages and watch events as raw JSON bytes recorded beforehand,
    decoded on each call as ``KubeListerWatcher`` decodes them. Takes the simulated server (and
    HTTP) out of the measurement, leaving the mirror's own work."""

    def __init__(self, resource: Any, pages: list[bytes], events: list[bytes], schema: Any) -> None:
        self.resource = resource
        self.schema = schema
        self._pages = {"": pages[0]}
        for index, body in enumerate(pages[1:], start=1):
            self._pages[str(index)] = body
        self._events = events
        self.release = threading.Event()
        self._closed = threading.Event()

    def list_page(
        self, *, resource_version: str | None, limit: int, continue_token: str | None
    ) -> Any:
        from informer_mirror.kube import ListPage  # noqa: PLC0415
        from informer_mirror.kube.decode import decode_list  # noqa: PLC0415

        doc = decode_list(self._pages[continue_token or ""], lean=True, schema=self.schema)
        for item in doc["items"]:
            item.setdefault("kind", "Pod")
            item.setdefault("apiVersion", "v1")
        following = str(int(continue_token or 0) + 1)
        return ListPage(
            doc["items"],
            doc["metadata"]["resourceVersion"],
            following if following in self._pages else "",
        )

    def watch(
        self, *, resource_version: str, timeout_seconds: int, send_initial_events: bool = False
    ) -> Any:
        return _MemoryStream(self)

    def close(self) -> None:
        self._closed.set()


class _MemoryStream:
    def __init__(self, lw: _MemoryListerWatcher) -> None:
        self._lw = lw
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        self._closed.set()

    def __iter__(self) -> Any:
        from informer_mirror.kube import WatchEvent  # noqa: PLC0415
        from informer_mirror.kube.decode import decode_event  # noqa: PLC0415

        while not self._lw.release.wait(0.05):
            if self._closed.is_set() or self._lw._closed.is_set():
                return
        events, self._lw._events = self._lw._events, []
        for line in events:
            event = decode_event(line, lean=True, schema=self._lw.schema)
            yield WatchEvent(event["type"], event["object"])
        self._closed.wait(3600)


def _mirror_in_memory(
    conn: Connection, kubeconfig: str, kind: str, where: str, events: int, tuned_gc: bool
) -> None:
    """Initial sync and events through the real Informer, Store, WorkQueue, BatchWriter and
    backend, with the API replaced by recorded bytes (see _MemoryListerWatcher)."""
    import urllib.request  # noqa: PLC0415

    import orjson  # noqa: PLC0415
    import yaml  # noqa: PLC0415

    from informer_mirror.informer.informer import Informer  # noqa: PLC0415
    from informer_mirror.informer.workqueue import WorkQueue  # noqa: PLC0415
    from informer_mirror.kube import ApiResource  # noqa: PLC0415
    from informer_mirror.registry import build_registry  # noqa: PLC0415
    from informer_mirror.settings import ClusterSettings, Settings  # noqa: PLC0415
    from informer_mirror.writer import BatchWriter  # noqa: PLC0415

    server = yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    pages: list[bytes] = []
    token = ""
    while True:
        url = f"{server}/api/v1/pods?limit={PAGE}" + (f"&continue={token}" if token else "")
        with urllib.request.urlopen(url) as response:
            body = response.read()
        pages.append(body)
        token = orjson.loads(body)["metadata"].get("continue") or ""
        if not token:
            break
    pods = [item for body in pages for item in orjson.loads(body)["items"]]
    base = max(int(p["metadata"]["resourceVersion"]) for p in pods)
    lines = []
    for i, pod in enumerate(pods[:events]):
        pod["metadata"]["resourceVersion"] = str(base + 1 + i)
        pod["metadata"].setdefault("labels", {})["bench-serial"] = str(i)
        lines.append(orjson.dumps({"type": "MODIFIED", "object": pod}))
    target = {p["metadata"]["uid"]: p["metadata"]["resourceVersion"] for p in pods}
    del pods
    _tune_gc(tuned_gc)
    registry = build_registry(Settings(cluster=ClusterSettings(name="bench")))
    spec = registry["pods"]
    lw = _MemoryListerWatcher(
        ApiResource.from_kind(spec.kind_info), pages, lines, spec.decode_schema
    )
    backend = _open_backend(kind, where)
    queue: WorkQueue[Any] = WorkQueue(name="mirror")
    informer = Informer(
        name="pods",
        lister_watcher=lw,
        queue=queue,
        transform=registry.transform_for("pods"),
        resource_version="",
    )
    writer = BatchWriter(
        backend=backend, queue=queue, specs=[spec], sources={"pods": informer}, cluster="bench"
    )
    started = time.perf_counter()
    writer.start()
    informer.start()
    wait_until(
        lambda: informer.has_synced and writer.first_full_sync_flushed, "the first full sync"
    )
    sync_s = time.perf_counter() - started
    released = time.perf_counter()
    lw.release.set()
    final = base + len(lines)
    wait_until(lambda: _landed(informer, writer, final), "the churn's last write")
    events_s = time.perf_counter() - released
    if kind == "sqlite":
        assert backend.versions(spec) == target, "the mirror differs from the recorded cluster"
    conn.send(
        {"objects": len(target), "sync_s": sync_s, "events": len(lines), "events_s": events_s}
    )
    informer.stop()
    informer.join(10)
    writer.stop(drain_timeout=5)


# ---- the naive "old system" (child process) ---------------------------------------------------


def _stages(conn: Connection, kubeconfig: str, kind: str, where: str) -> None:
    """Where an initial sync's time goes, stage by stage on one thread (no GIL contention, no
    overlap): microseconds per Pod for each step the mirror takes from list bytes to backend."""
    import gc  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    import orjson  # noqa: PLC0415
    import yaml  # noqa: PLC0415

    from informer_mirror import gctuning  # noqa: PLC0415
    from informer_mirror.informer.store import Store  # noqa: PLC0415
    from informer_mirror.informer.workqueue import WorkQueue  # noqa: PLC0415
    from informer_mirror.kube.decode import decode_list  # noqa: PLC0415
    from informer_mirror.registry import build_registry  # noqa: PLC0415
    from informer_mirror.settings import ClusterSettings, Settings  # noqa: PLC0415
    from informer_mirror.writer import BatchWriter  # noqa: PLC0415

    server = yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    started = time.perf_counter()
    pages: list[bytes] = []
    token = ""
    while True:
        url = f"{server}/api/v1/pods?limit={PAGE}" + (f"&continue={token}" if token else "")
        with urllib.request.urlopen(url) as response:
            pages.append(response.read())
        head = pages[-1][: pages[-1].index(b',"items":[')] + b"}"  # the list metadata only
        token = orjson.loads(head)["metadata"].get("continue") or ""
        if not token:
            break
    fetch = time.perf_counter() - started
    n = sum(len(orjson.loads(body)["items"]) for body in pages)
    costs: dict[str, float] = {"HTTP list from the sim (its own process)": fetch}

    def timed(label: str, fn: Any) -> Any:
        t = time.perf_counter()
        result = fn()
        costs[label] = time.perf_counter() - t
        return result

    items: list[Any] = []
    timed(
        "JSON decode of the pages (GC on, defaults)",
        lambda: [items.extend(orjson.loads(b)["items"]) for b in pages],
    )
    items = []
    gc.disable()
    timed(
        "  same, GC paused (for comparison)",
        lambda: [items.extend(orjson.loads(b)["items"]) for b in pages],
    )
    gc.enable()
    items = []
    gc.collect()  # the orjson dicts above are gone: start the daemon's own path clean
    with gctuning.paused():
        timed(
            "    without managedFields (msgspec, GC paused)",
            lambda: [items.extend(decode_list(b, lean=True)["items"]) for b in pages],
        )
    registry = build_registry(Settings(cluster=ClusterSettings(name="bench")))
    items = []
    gc.collect()
    with gctuning.paused():
        timed(
            "    into PodInput, as kube/ does (GC paused)",
            lambda: [
                items.extend(
                    decode_list(b, lean=True, schema=registry["pods"].decode_schema)["items"]
                )
                for b in pages
            ],
        )
    transform = registry.transform_for("pods")
    store = Store(name="pods", transform=transform)
    with gctuning.paused():
        timed(
            "Store.replace: transform + encode + pack + index",
            lambda: store.replace(items, "1"),
        )
    queue: WorkQueue[Any] = WorkQueue(name="mirror")
    with gctuning.paused():  # the informer queues keys inside the reflector's list pause
        timed(
            "WorkQueue.add of every key",
            lambda: [queue.add(("pods", r.key)) for r in store.list_stored()],
        )

    class Source:
        has_synced = True

    source = Source()
    source.store = store  # type: ignore[attr-defined]
    spec = registry["pods"]
    writer = BatchWriter(
        backend=_open_backend(kind, where),
        queue=queue,
        specs=[spec],
        sources={"pods": source},
        cluster="bench",
    )

    def flush() -> None:
        writer.start()
        wait_until(lambda: writer.first_full_sync_flushed, "the writer's first full sync")

    timed(f"BatchWriter: Store -> {kind} (read, build, apply)", flush)
    writer.stop(drain_timeout=5)
    conn.send({"pods": n, "us_per_pod": {k: 1e6 * v / n for k, v in costs.items()}})


def _naive_client(
    conn: Connection, kubeconfig: str, kind: str, where: str, events: int, verify: bool
) -> None:
    from bench.baseline import NaiveMirror  # noqa: PLC0415 - the old system, shared in bench/

    naive = NaiveMirror(kubeconfig, kind, where)
    started = time.perf_counter()
    list_rv = naive.initial_sync()
    synced = time.perf_counter() - started
    conn.send({"list_s": synced, "sync_s": synced})
    target = conn.recv()
    seen = 0
    first = 0.0

    def on_written(_rv: str) -> bool:
        nonlocal seen, first
        seen += 1
        if seen == 1:
            first = time.perf_counter()
        return seen < events

    naive.run_watch(list_rv, on_written)
    done = time.perf_counter()
    naive.stop_watch()
    if verify:
        stored = naive.sink.versions()
        assert all(stored.get(uid) == rv for uid, rv in target.items()), "naive mirror differs"
    conn.send({"events_s": done - first})
    naive.close()


# ---- orchestration ----------------------------------------------------------------------------


def _call(sim: Connection, command: str, arg: Any = None) -> Any:
    sim.send((command, arg))
    return sim.recv()


def _measure(
    ctx: Any,
    sim: Connection,
    approach: str,
    kind: str,
    pods: int,
    events: int,
    args: Any,
    mongo_uri: str,
    workdir: Path,
) -> dict[str, Any]:
    """One approach's row; its SQLite files go into ``workdir``."""
    kubeconfig = _call(sim, "kubeconfig")
    where = str(workdir / "mirror.db") if kind == "sqlite" else mongo_uri
    verify = kind == "sqlite" or bool(args.mongo_uri)  # the stub stores nothing to compare
    _call(sim, "stall")  # hold the client's watch until the events are made
    parent, child = ctx.Pipe()
    if approach == "mirror":
        target = _mirror_client
        proc_args: tuple[Any, ...] = (
            child,
            kubeconfig,
            kind,
            where,
            args.profile,
            verify,
            args.tuned_gc,
        )
    else:
        target = _naive_client
        proc_args = (child, kubeconfig, kind, where, events, verify)
    proc = ctx.Process(target=target, args=proc_args)
    proc.start()
    synced = parent.recv()
    churn_s = _call(sim, "churn", events)
    truth = _call(sim, "truth")
    _call(sim, "unstall")
    parent.send(truth)
    watched = parent.recv()
    proc.join(120)
    row: dict[str, Any] = {
        "backend": kind if kind == "sqlite" else ("mongo" if args.mongo_uri else "mongo-stub"),
        "verified": verify,
        "approach": approach,
        "pods": pods,
        "events": events,
        "sync_s": synced["sync_s"],
        "sync_objects_per_s": pods / synced["sync_s"],
        "list_s": synced["list_s"],
        "events_s": watched["events_s"],
        "events_per_s": events / watched["events_s"],
        "sim_churn_events_per_s": events / churn_s,
    }
    if synced.get("profile"):
        row["profile"] = synced["profile"]
    if approach == "mirror":
        parent, child = ctx.Pipe()
        where2 = str(workdir / "writer.db") if kind == "sqlite" else mongo_uri
        proc = ctx.Process(
            target=_writer_only, args=(child, kubeconfig, kind, where2, args.tuned_gc)
        )
        proc.start()
        result = parent.recv()
        proc.join(60)
        row["writer_only_objects_per_s"] = result["objects"] / result["writer_s"]
        parent, child = ctx.Pipe()
        where3 = str(workdir / "memory.db") if kind == "sqlite" else mongo_uri
        proc = ctx.Process(
            target=_mirror_in_memory,
            args=(child, kubeconfig, kind, where3, events, args.tuned_gc),
        )
        proc.start()
        result = parent.recv()
        proc.join(60)
        row["in_memory_api"] = {
            "sync_objects_per_s": result["objects"] / result["sync_s"],
            "events_per_s": result["events"] / result["events_s"],
        }
    return row


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'backend':<10} {'approach':<8} {'pods':>6} {'sync s':>7} {'objects/s':>10} "
        f"{'events':>7} {'events/s':>9} | {'in-memory API: objects/s':>24} {'events/s':>9} "
        f"| {'writer only/s':>13}"
    )
    lines = [head, "-" * len(head)]

    def num(value: float | None) -> str:
        return f"{value:.0f}" if value else "-"

    for r in rows:
        memory = r.get("in_memory_api") or {}
        lines.append(
            f"{r['backend']:<10} {r['approach']:<8} {r['pods']:>6} {r['sync_s']:>7.2f} "
            f"{r['sync_objects_per_s']:>10.0f} {r['events']:>7} {r['events_per_s']:>9.0f} | "
            f"{num(memory.get('sync_objects_per_s')):>24} {num(memory.get('events_per_s')):>9} | "
            f"{num(r.get('writer_only_objects_per_s')):>13}"
        )
    return "\n".join(lines)


def _ratios(rows: list[dict[str, Any]], backend: str) -> dict[str, float | None]:
    by = {r["approach"]: r for r in rows if r["backend"] == backend}
    if "mirror" not in by or "naive" not in by:
        return {"sync_ratio": None, "events_ratio": None}
    return {
        "sync_ratio": round(
            by["mirror"]["sync_objects_per_s"] / by["naive"]["sync_objects_per_s"], 1
        ),
        "events_ratio": round(by["mirror"]["events_per_s"] / by["naive"]["events_per_s"], 1),
    }


def _run_stages(ctx: Any, pods: int, args: Any) -> int:
    sim, sim_child = ctx.Pipe()
    sim_proc = ctx.Process(target=_sim_main, args=(sim_child, pods, 0, args.seed))
    sim_proc.start()
    sim.recv()
    try:
        kubeconfig = _call(sim, "kubeconfig")
        parent, child = ctx.Pipe()
        with tempfile.TemporaryDirectory(prefix="bench-stages-") as scratch:
            where = str(Path(scratch) / "mirror.db")
            proc = ctx.Process(target=_stages, args=(child, kubeconfig, "sqlite", where))
            proc.start()
            result = parent.recv()
            proc.join(60)
    finally:
        sim.send(("stop", None))
        sim_proc.join(60)
    print(f"initial sync of {result['pods']} Pods, stage by stage (us per Pod; ceiling objects/s):")
    for label, us in result["us_per_pod"].items():
        print(f"  {label:<48} {us:8.1f} us  {1e6 / us:>9.0f}/s")
    out = args.out or RESULTS / "sync_stages.json"
    out.write_text(
        json.dumps({"benchmark": "sync_stages", **result}, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3k Pods, fewer naive events")
    parser.add_argument("--pods", type=int, help="Pods in the cluster (mirror runs)")
    parser.add_argument("--events", type=int, help="watch events per mirror run")
    parser.add_argument("--naive-pods", type=int, help="Pods in the cluster of the naive runs")
    parser.add_argument("--naive-events", type=int, help="watch events per naive run")
    parser.add_argument(
        "--backends", nargs="+", choices=["sqlite", "mongo"], default=["sqlite", "mongo"]
    )
    parser.add_argument(
        "--mongo-uri", default="", help="a real MongoDB (default: the zero-latency stub)"
    )
    parser.add_argument("--profile", action="store_true", help="profile the mirror's initial sync")
    parser.add_argument(
        "--default-gc",
        dest="tuned_gc",
        action="store_false",
        help="leave the garbage collector untuned in the mirror's processes",
    )
    parser.add_argument(
        "--stages", action="store_true", help="only time each stage of an initial sync, per Pod"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    pods = args.pods or (3_000 if args.quick else 10_000)
    events = min(pods, args.events or pods)  # each event updates a distinct Pod
    naive_pods = args.naive_pods or (1_000 if args.quick else 2_000)
    naive_events = min(naive_pods, args.naive_events or (500 if args.quick else 1_000))
    out = args.out or RESULTS / (
        "sync_throughput_quick.json" if args.quick else "sync_throughput.json"
    )

    ctx = mp.get_context("spawn")
    if args.stages:
        return _run_stages(ctx, pods, args)
    rows: list[dict[str, Any]] = []
    mongo_uri = args.mongo_uri
    stub = None
    if "mongo" in args.backends and not mongo_uri:
        port_in, port_out = ctx.Pipe()
        stub = ctx.Process(target=mongo_stub.serve, args=(port_out,), daemon=True)
        stub.start()
        mongo_uri = f"mongodb://127.0.0.1:{port_in.recv()}/?directConnection=true"
    for approach, n_pods, n_events in (
        ("mirror", pods, events),
        ("naive", naive_pods, naive_events),
    ):
        for kind in args.backends:
            sim, sim_child = ctx.Pipe()
            sim_proc = ctx.Process(
                target=_sim_main, args=(sim_child, n_pods, max(events, naive_events), args.seed)
            )
            sim_proc.start()
            sim.recv()
            try:
                # the databases are removed with the scratch directory (100k Pods: ~250 MB)
                with tempfile.TemporaryDirectory(prefix="bench-sync-") as scratch:
                    row = _measure(
                        ctx, sim, approach, kind, n_pods, n_events, args, mongo_uri, Path(scratch)
                    )
            finally:
                sim.send(("stop", None))
                sim_proc.join(60)
            rows.append(row)
            print(_table([row]).splitlines()[-1], flush=True)
            if row.get("profile"):
                print(row["profile"], flush=True)
    print()
    print(_table(rows))
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = WriterSettings()  # the pipeline's (bench/pipeline.py): the defaults
    result = {
        **result_header("sync_throughput"),
        "tuned_gc": args.tuned_gc,
        "writer_settings": {
            "batch_size": writer.batch_size,
            "flush_interval": writer.flush_interval,
        },
        "rows": [{k: v for k, v in r.items() if k != "profile"} for r in rows],
        "ratios": {kind: _ratios(rows, kind) for kind in ("sqlite", "mongo-stub", "mongo")},
    }
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if stub is not None:
        stub.kill()
    print(f"\nwrote {out}")
    print(json.dumps(_ratios(rows, "sqlite")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
