"""``python -m bench [--quick]``: the one entry point of the benchmarks (see ``bench/suite.py``).

Runs every scenario with the mirror and the naive baseline side by side, prints a table against
the targets, writes ``bench/results/suite[_quick].json``, and prints as its last line the headline
ratios ``{"sync_ratio": ..., "events_ratio": ...}`` (mirror / baseline, initial sync objects/s and
sustained events/s at the largest cluster size both ran at).

``--quick`` (well under a minute): 3k Pods, 3k events, 2k paced events, 5k REST documents, one
sample of each. Full: 10k and 100k Pods for the mirror (the baseline at 10k: at ~600 objects/s a
100k run of it takes minutes; ``--naive-max 100000`` runs it anyway), 10k events, 10k paced,
100k REST documents; initial sync and churn are the median of three samples (``--runs``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench.suite import Plan, run_api, run_pipeline

RESULTS = Path(__file__).resolve().parent / "results"

TARGETS = {
    "sync_objects_per_s": 20_000,
    "events_per_s": 10_000,
    "ratio": 20.0,
    "rss_kib_per_object": 1.5,
    "gc_max_pause_ms": 100.0,
    "latency_p99_s": 1.0,
}


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _pair(rows: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(mirror, naive) rows at the largest size both ran at."""
    naive = {r["pods"]: r for r in rows if r["approach"] == "naive"}
    mirror = {r["pods"]: r for r in rows if r["approach"] == "mirror"}
    common = sorted(set(naive) & set(mirror))
    if not common:
        return None, None
    return mirror[common[-1]], naive[common[-1]]


def headline(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    mirror, naive = _pair(rows)
    if mirror is None or naive is None:
        return {"sync_ratio": None, "events_ratio": None}
    return {
        "sync_ratio": round(mirror["sync_objects_per_s"] / naive["sync_objects_per_s"], 1),
        "events_ratio": round(mirror["events_per_s"] / naive["events_per_s"], 1),
    }


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def table(rows: list[dict[str, Any]], api_rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'scenario':<54}{'mirror':>12}{'baseline':>12}{'ratio':>8}  {'target':<16}{'met':>4}",
    ]
    lines.append("-" * len(lines[0]))
    naive = {r["pods"]: r for r in rows if r["approach"] == "naive"}

    def line(label: str, m: float, n: float | None, fmt: str, target: str, ok: bool | None) -> None:
        # the improvement factor: higher is better for rates, lower for the rest
        higher = label.endswith("/s)")
        better = (m / n if higher else n / m) if n and m else None
        ratio = f"{better:.1f}x" if better is not None else "-"
        base = format(n, fmt) if n is not None else "-"
        met = "" if ok is None else _met(ok)
        lines.append(f"{label:<54}{format(m, fmt):>12}{base:>12}{ratio:>8}  {target:<16}{met:>4}")

    for m in (r for r in rows if r["approach"] == "mirror"):
        n = naive.get(m["pods"])
        pods = f"{m['pods'] // 1000}k Pods"
        sync_ok = m["sync_objects_per_s"] >= TARGETS["sync_objects_per_s"]
        if n:
            sync_ok = sync_ok and m["sync_objects_per_s"] / n["sync_objects_per_s"] >= 20
        line(
            f"initial sync {pods} -> SQLite (objects/s)",
            m["sync_objects_per_s"],
            n["sync_objects_per_s"] if n else None,
            ".0f",
            ">=20000, >=20x",
            sync_ok,
        )
        line(
            f"  ceiling: the sim's bare list, {pods} (objects/s)",
            m["sim_list_objects_per_s"],
            None,
            ".0f",
            "",
            None,
        )
        ev_ok = m["events_per_s"] >= TARGETS["events_per_s"]
        if n:
            ev_ok = ev_ok and m["events_per_s"] / n["events_per_s"] >= 20
        line(
            f"sustained churn, {m['events']} events (events/s)",
            m["events_per_s"],
            n["events_per_s"] if n else None,
            ".0f",
            ">=10000, >=20x",
            ev_ok,
        )
        rate = f"{m['latency_rate']:.0f}/s"
        line(
            f"event->backend p50 at {rate} (s)",
            m["latency_p50_s"],
            n["latency_p50_s"] if n else None,
            ".3f",
            "",
            None,
        )
        line(
            f"event->backend p99 at {rate} (s)",
            m["latency_p99_s"],
            n["latency_p99_s"] if n else None,
            ".3f",
            "<=1 s",
            m["latency_p99_s"] <= TARGETS["latency_p99_s"],
        )
        line(
            f"resident KiB per mirrored object, {pods}",
            m["rss_kib_per_object"],
            n["rss_kib_per_object"] if n else None,
            ".2f",
            "<=1.5 at 100k" if m["pods"] >= 100_000 else "(1.5 at 100k)",
            m["rss_kib_per_object"] <= TARGETS["rss_kib_per_object"]
            if m["pods"] >= 100_000
            else None,
        )
        line(
            f"longest GC pause, {pods} (ms)",
            m["gc_max_pause_ms"],
            n["gc_max_pause_ms"] if n else None,
            ".1f",
            "<=100 ms",
            m["gc_max_pause_ms"] <= TARGETS["gc_max_pause_ms"],
        )
        line(
            f"warm restart, nothing changed: docs written, {pods}",
            m["restart_written"],
            n["restart_written"] if n else None,
            ".0f",
            "",
            None,
        )
        line(
            f"warm restart: seconds to ready, {pods}",
            m["restart_ready_s"],
            n["restart_ready_s"] if n else None,
            ".2f",
            "",
            None,
        )
    direct = {r["scenario"].split()[1]: r for r in api_rows if r["scenario"].startswith("direct")}
    for r in api_rows:
        if not r["scenario"].startswith("api"):
            continue
        kind = r["scenario"].split()[1]
        what = {"get": "single GET", "page": "100-item page", "page/ns": "100-item page in ns"}
        label = f"REST {what.get(kind, kind)}, {r['clients']} conn, {r['docs'] // 1000}k docs"
        base = direct.get(kind)
        direct_rps = f"{base['rps']:.0f}" if base else "-"
        direct_p99 = f"{base['p99_ms']:.2f}" if base else "-"
        lines.append(f"{label + ' (req/s)':<54}{r['rps']:>12.0f}{direct_rps:>12}")
        lines.append(f"{'  p99 (ms)':<54}{r['p99_ms']:>12.2f}{direct_p99:>12}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--sizes", type=int, nargs="+", help="cluster sizes in Pods")
    parser.add_argument("--naive-max", type=int, help="largest cluster the baseline runs at")
    parser.add_argument("--profile", action="store_true", help="profile the mirror's initial sync")
    parser.add_argument(
        "--runs", type=int, help="initial syncs and churn bursts, median reported (full: 3)"
    )
    parser.add_argument("--no-api", action="store_true", help="skip the REST scenarios")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.quick:
        plan = Plan(
            sizes=tuple(args.sizes or (3_000,)),
            naive_max=args.naive_max or 3_000,
            events=3_000,
            paced=2_000,
            rate=1_000.0,
            api_docs=5_000,
            api_requests=300,
            api_clients=1,
            profile=args.profile,
            runs=args.runs or 1,
        )
    else:
        plan = Plan(
            sizes=tuple(args.sizes or (10_000, 100_000)),
            naive_max=args.naive_max or 10_000,
            events=10_000,
            paced=10_000,
            rate=1_000.0,
            api_docs=100_000,
            api_requests=3_000,
            api_clients=4,
            profile=args.profile,
            runs=args.runs or 3,
        )
    out = args.out or RESULTS / ("suite_quick.json" if args.quick else "suite.json")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    rows = run_pipeline(plan, log)
    api_rows = [] if args.no_api else run_api(plan, log)
    text = table(rows, api_rows)
    ratios = headline(rows)
    for row in rows:
        if row["profile"]:
            print(f"profile of the mirror's initial sync, {row['pods']} Pods:\n{row['profile']}\n")
    host = machine()
    print(f"machine: {host['nproc']} CPUs, {host['cpu']}, Python {host['python']}")
    if plan.runs > 1:
        print(f"initial sync and sustained churn: the median of {plan.runs} samples each")
    print(text)
    result = {
        "benchmark": "suite",
        "quick": args.quick,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": host,
        "plan": {k: getattr(plan, k) for k in plan.__slots__},
        "seconds": time.perf_counter() - started,
        "targets": TARGETS,
        "rows": [{k: v for k, v in r.items() if k != "profile"} for r in rows],
        "profiles": {str(r["pods"]): r["profile"] for r in rows if r["profile"]},
        "api_rows": api_rows,
        "headline": ratios,
        "table": text,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} in {time.perf_counter() - started:.0f} s")
    print(json.dumps(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
