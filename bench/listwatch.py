"""List + watch throughput and store memory per Pod: our informer against the naive client.

What is compared, against the same simulated cluster over real HTTP, in the same run:

* ``informer``: informer-mirror's path: ``KubeListerWatcher`` (raw JSON through ``call_api``,
  parsed with orjson) -> ``Reflector`` -> ``Informer`` -> ``Store`` (orjson bytes per object,
  ``managedFields`` stripped by the default transform) and the WorkQueue of keys;
* ``naive``: the official client as most scripts use it: ``CoreV1Api.list_pod_for_all_namespaces``
  (paginated, 500) and ``watch.Watch().stream`` on typed models, the models kept in a dict.

Per cluster size (Pods) and approach, each in a fresh child interpreter so heaps do not mix:

* list: wall time of the complete paginated list into the cache (objects/s);
* memory: RSS growth per Pod once the list is cached (``/proc/self/statm`` after ``gc.collect()``);
* watch: ``--events`` updates are made while the client's watch is held (the sim's stall fault),
  then released: events/s from the first to the last event applied to the cache.

The simulated cluster runs in its own process too, so its memory and CPU are not the client's.
Both clients list with ``resourceVersion=""`` and ``limit=500`` (a consistent, paginated read), so
neither holds a 100k-object response body at once.

Run: ``python -m bench.listwatch`` (10k and 100k Pods) or ``--quick`` (2k and 5k, fewer events).
Prints a table and writes ``bench/results/listwatch.json`` (``listwatch_quick.json`` for --quick).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import random
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.report import result_header

RESULTS = Path(__file__).resolve().parent / "results"
APPROACHES = ("informer", "naive")
PAGE = 500


def _rss() -> int:
    gc.collect()
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ---- the simulated cluster (child process) ---------------------------------------------------


def _sim_main(conn: Connection, pods: int, events: int, seed: int) -> None:
    from bench.cluster import populate_pods, serve_sim  # noqa: PLC0415
    from informer_mirror.sim import start_sim  # noqa: PLC0415 - child process only
    from informer_mirror.sim.state import ClusterState  # noqa: PLC0415

    rng = random.Random(seed)
    state = ClusterState(history_size=events + 1_000)
    started = time.perf_counter()
    populate_pods(state, pods, rng)
    populate_s = time.perf_counter() - started
    sizes = [len(json.dumps(p)) for p in state.list_objects("pods")[:200]]
    sim = start_sim(state=state, bookmark_interval=60.0)
    serial = 0  # every update sets a new label value: an update that changes nothing is no event

    def churn(_arg: Any) -> str:
        """``events`` updates over a sample of Pods: the resourceVersion after the last."""
        nonlocal serial
        sample = rng.sample(state.list_objects("pods"), min(events, pods))
        names = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in sample]
        for n in range(events):
            namespace, name = names[n % len(names)]
            pod = state.get("pods", namespace, name)
            serial += 1
            pod["metadata"].setdefault("labels", {})["bench-serial"] = str(serial)
            state.update("pods", pod)
        return state.resource_version

    conn.send({"url": sim.url, "populate_s": populate_s, "pod_bytes": sum(sizes) / len(sizes)})
    serve_sim(conn, sim, {"churn": churn})


# ---- the clients (child processes) -----------------------------------------------------------


def _informer_client(conn: Connection, kubeconfig: str, pods: int, events: int) -> None:
    from informer_mirror.informer.informer import EventHandler, Informer  # noqa: PLC0415
    from informer_mirror.informer.workqueue import WorkQueue  # noqa: PLC0415
    from informer_mirror.kinds import BUILTIN_BY_PLURAL  # noqa: PLC0415
    from informer_mirror.kube import ApiResource, KubeClient, KubeListerWatcher  # noqa: PLC0415

    client = KubeClient.from_kubeconfig(kubeconfig)
    lw = KubeListerWatcher(client, ApiResource.from_kind(BUILTIN_BY_PLURAL["pods"]))
    queue: WorkQueue[Any] = WorkQueue(name="bench")
    # resource_version="" (state of unknown age): a consistent, paginated first list.
    informer = Informer(name="pods", lister_watcher=lw, queue=queue, resource_version="")
    seen = 0
    first = last = 0.0
    done = threading.Event()

    def on_update(_old: Any, _new: Any) -> None:
        nonlocal seen, first, last
        seen += 1
        if seen == 1:
            first = time.perf_counter()
        if seen == events:
            last = time.perf_counter()
            done.set()

    informer.add_event_handler(EventHandler(on_update=on_update))
    rss0 = _rss()
    started = time.perf_counter()
    informer.start()
    assert informer.wait_for_sync(3600)
    list_s = time.perf_counter() - started
    rss1 = _rss()
    assert len(informer.store) == pods, len(informer.store)
    conn.send({"list_s": list_s, "rss_per_pod": (rss1 - rss0) / pods})
    conn.recv()  # the events have been made and released
    assert done.wait(3600)
    conn.send({"watch_s": last - first, "events": seen})
    informer.stop()
    informer.join(10)
    client.close()


def _naive_client(conn: Connection, kubeconfig: str, pods: int, events: int) -> None:
    import kubernetes  # noqa: PLC0415 - the baseline, in bench/ only

    api_client = kubernetes.config.new_client_from_config(config_file=kubeconfig)
    core = kubernetes.client.CoreV1Api(api_client)
    cache: dict[str, Any] = {}
    rss0 = _rss()
    started = time.perf_counter()
    token = None
    while True:
        page = core.list_pod_for_all_namespaces(limit=PAGE, _continue=token)
        if token is None:
            list_rv = page.metadata.resource_version
        for pod in page.items:
            cache[f"{pod.metadata.namespace}/{pod.metadata.name}"] = pod
        token = page.metadata._continue
        if not token:
            break
    list_s = time.perf_counter() - started
    rss1 = _rss()
    assert len(cache) == pods, len(cache)
    conn.send({"list_s": list_s, "rss_per_pod": (rss1 - rss0) / pods})
    conn.recv()
    seen = 0
    first = last = 0.0
    watcher = kubernetes.watch.Watch()
    for event in watcher.stream(
        core.list_pod_for_all_namespaces, resource_version=list_rv, timeout_seconds=3600
    ):
        pod = event["object"]
        cache[f"{pod.metadata.namespace}/{pod.metadata.name}"] = pod
        seen += 1
        if seen == 1:
            first = time.perf_counter()
        if seen == events:
            last = time.perf_counter()
            watcher.stop()
            break
    conn.send({"watch_s": last - first, "events": seen})
    api_client.close()


CLIENTS = {"informer": _informer_client, "naive": _naive_client}


# ---- orchestration ----------------------------------------------------------------------------


def _measure(ctx: Any, sim: Connection, approach: str, pods: int, events: int) -> dict[str, Any]:
    sim.send(("kubeconfig", None))
    kubeconfig = sim.recv()
    sim.send(("stall", None))  # hold the client's watch until the events are made
    sim.recv()
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=CLIENTS[approach], args=(child, kubeconfig, pods, events))
    proc.start()
    listed = parent.recv()
    sim.send(("churn", None))
    sim.recv()
    sim.send(("unstall", None))
    sim.recv()
    parent.send("go")
    watched = parent.recv()
    proc.join(60)
    return {
        "approach": approach,
        "pods": pods,
        "events": watched["events"],
        "list_s": listed["list_s"],
        "list_objects_per_s": pods / listed["list_s"],
        "rss_kib_per_pod": listed["rss_per_pod"] / 1024,
        "watch_s": watched["watch_s"],
        "watch_events_per_s": (watched["events"] - 1) / watched["watch_s"],
    }


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'pods':>7}  {'approach':<9} {'list s':>8} {'objects/s':>10} "
        f"{'KiB/Pod':>8} {'events':>7} {'events/s':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['pods']:>7}  {r['approach']:<9} {r['list_s']:>8.2f} "
            f"{r['list_objects_per_s']:>10.0f} {r['rss_kib_per_pod']:>8.1f} "
            f"{r['events']:>7} {r['watch_events_per_s']:>9.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2k and 5k Pods, 2k events")
    parser.add_argument("--sizes", type=int, nargs="+", help="cluster sizes in Pods")
    parser.add_argument("--events", type=int, help="watch events per measurement")
    parser.add_argument("--approaches", nargs="+", choices=APPROACHES, default=list(APPROACHES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    sizes = args.sizes or ([2_000, 5_000] if args.quick else [10_000, 100_000])
    events = args.events or (2_000 if args.quick else 10_000)
    out = args.out or RESULTS / ("listwatch_quick.json" if args.quick else "listwatch.json")

    ctx = mp.get_context("spawn")
    rows: list[dict[str, Any]] = []
    clusters: list[dict[str, Any]] = []
    for pods in sizes:
        sim, sim_child = ctx.Pipe()
        sim_proc = ctx.Process(target=_sim_main, args=(sim_child, pods, events, args.seed))
        sim_proc.start()
        info = sim.recv()
        clusters.append(
            {"pods": pods, "populate_s": info["populate_s"], "pod_bytes": info["pod_bytes"]}
        )
        print(
            f"cluster of {pods} Pods ({info['pod_bytes']:.0f} B JSON each) populated in "
            f"{info['populate_s']:.0f} s",
            flush=True,
        )
        try:
            for approach in args.approaches:
                rows.append(_measure(ctx, sim, approach, pods, events))
                print(_table(rows[-1:]).splitlines()[-1], flush=True)
        finally:
            sim.send(("stop", None))
            sim_proc.join(60)
    print()
    print(_table(rows))
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        **result_header("listwatch"),
        "clusters": clusters,
        "events_per_measurement": events,
        "rows": rows,
    }
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
