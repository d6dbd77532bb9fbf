"""Store memory per Pod for candidate representations, side by side, at 10k and 100k Pods.

Why: a parsed Pod dict costs 19-36 KiB while its JSON is ~4 KB, and with 100k dict Pods one full GC
pause took seconds. This measures what ``informer/store.py`` keeps instead, against that baseline:

* ``dict``:  the naive cache, one parsed (transformed) dict per Pod, as the official client keeps;
* ``orjson``: ``orjson.dumps`` of the transformed Pod + key, namespace, uid, rv in a slots record;
* ``bytes``: the same, copied into exact-size bytes (orjson's output keeps spare capacity);
* ``zlib``:  the same with the bytes zlib-compressed (level 1);
* ``store``: the real ``informer_mirror.informer.store.Store`` (bytes records + namespace index).

Every candidate ingests the same raw JSON payloads (``orjson.loads`` + strip ``managedFields``, as
the informer does) in a fresh child interpreter, so heaps do not mix. Per candidate and size:

* RSS delta per Pod (``/proc/self/statm`` after ``gc.collect()``, before minus after ingest);
* objects tracked by the GC per Pod, and the median pause of a full ``gc.collect()``;
* ingest cost per Pod; ``get()`` cost (a read-only object; the ``dict`` baseline hands out its
  shared mutable dict, which is the hazard client-go documents); and "doc" cost: the JSON bytes a
  writer needs for the backend (``dict`` must encode them, the others already hold them).

Run: ``python -m bench.store_memory [--sizes 10000 100000]``. Prints a table and writes
``bench/results/store_memory.json``. Pods come from the simulated cluster's generator
(``informer_mirror.sim.objects_pods.make_pod``) when it is importable, else from a local one.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.report import result_header
from informer_mirror.informer.store import Store
from informer_mirror.informer.stored import encode, freeze, object_key, strip_managed_fields

RESULTS = Path(__file__).resolve().parent / "results" / "store_memory.json"
CANDIDATES = ("dict", "orjson", "bytes", "zlib", "store")
GET_SAMPLES = 20_000


# ---- Pod generation ----------------------------------------------------------------------


def _local_pod(rng: random.Random, i: int) -> dict[str, Any]:
    """A ~5 KB Deployment Pod after API defaulting, with kubelet status and managedFields."""
    app = f"app-{i % 300:03d}"
    namespace = f"team-{i % 40:02d}"
    rs = f"{app}-{random.Random(app).getrandbits(40):010x}"[:20]
    name = f"{rs}-{rng.getrandbits(25):07x}"
    uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    ts = "2026-11-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031 - a fixed-width timestamp
        rng.randint(1, 28),
        rng.randint(0, 23),
        rng.randint(0, 59),
        rng.randint(0, 59),
    )
    labels = {"app": app, "pod-template-hash": rs[-10:], "app.kubernetes.io/part-of": "shop"}
    env = [{"name": f"VAR_{k}", "value": f"value-{rng.getrandbits(30):x}"} for k in range(8)]
    env.append({"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
    probe = {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10}
    probe |= {"timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3}
    container = {
        "name": app,
        "image": f"registry.example.com/shop/{app}:1.{i % 9}.{i % 17}",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": env,
        "resources": {
            "limits": {"cpu": "500m", "memory": "512Mi"},
            "requests": {"cpu": "100m", "memory": "256Mi"},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/app"},
            {
                "name": "kube-api-access-x1y2z",
                "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            },
        ],
        "livenessProbe": probe,
        "readinessProbe": dict(probe),
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    ip = f"10.244.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
    node = f"node-{rng.randint(1, 50):03d}"
    conditions = [
        {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": ts}
        for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")
    ]
    fields = {"f:metadata": {"f:labels": {f"f:{k}": {} for k in labels}}}
    fields["f:spec"] = {"f:containers": {f'k:{{"name":"{app}"}}': {".": {}, "f:env": {}}}}
    managed = [
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "v1",
            "time": ts,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        },
        {
            "manager": "kubelet",
            "operation": "Update",
            "apiVersion": "v1",
            "time": ts,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:status": {f"f:{k}": {} for k in ("conditions", "podIP", "phase")}},
            "subresource": "status",
        },
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "generateName": f"{rs}-",
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": str(100_000 + i),
            "creationTimestamp": ts,
            "labels": labels,
            "annotations": {"checksum/config": f"{rng.getrandbits(256):064x}"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": rs,
                    "uid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": managed,
        },
        "spec": {
            "volumes": [
                {"name": "config", "configMap": {"name": f"{app}-config", "defaultMode": 420}},
                {
                    "name": "kube-api-access-x1y2z",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                        ],
                        "defaultMode": 420,
                    },
                },
            ],
            "containers": [container],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "nodeName": node,
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": f"node.kubernetes.io/{t}",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
                for t in ("not-ready", "unreachable")
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": f"10.0.{rng.randint(0, 63)}.{rng.randint(2, 254)}",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": ts,
            "containerStatuses": [
                {
                    "name": app,
                    "state": {"running": {"startedAt": ts}},
                    "lastState": {},
                    "ready": True,
                    "restartCount": 0,
                    "image": container["image"],
                    "imageID": f"{container['image']}@sha256:{rng.getrandbits(256):064x}",
                    "containerID": f"containerd://{rng.getrandbits(256):064x}",
                    "started": True,
                }
            ],
            "qosClass": "Burstable",
        },
    }


def _pod_factory() -> tuple[str, Callable[[random.Random, int], dict[str, Any]]]:
    """The simulated cluster's Pod generator when importable, else the local one."""
    try:
        from informer_mirror.sim.objects_pods import make_pod  # noqa: PLC0415 - optional
    except ImportError:
        return "local", _local_pod

    def sim_pod(rng: random.Random, i: int) -> dict[str, Any]:
        app = f"app-{i % 300:03d}"
        owner = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{app}-5d8f7c9b4",
                "namespace": f"team-{i % 40:02d}",
                "uid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            },
        }
        pod: dict[str, Any] = make_pod(
            rng,
            namespace=f"team-{i % 40:02d}",
            name=f"{app}-5d8f7c9b4-{i:07x}",
            node_name=f"node-{rng.randint(1, 50):03d}",
            owner=owner,
            labels={"app": app},
            now=1_790_000_000.0,
        )
        pod["metadata"]["resourceVersion"] = str(100_000 + i)
        return pod

    try:
        sim_pod(random.Random(0), 0)
    except Exception as e:
        print(f"sim generator unusable ({type(e).__name__}: {e}); using the local one")
        return "local", _local_pod
    return "sim", sim_pod


def generate(path: Path, n: int, seed: int = 42) -> tuple[str, float, float]:
    """Write ``n`` Pod payloads, one JSON document a line; return generator and mean sizes."""
    source, factory = _pod_factory()
    rng = random.Random(seed)
    raw_total = stripped_total = 0
    with path.open("wb") as f:
        for i in range(n):
            pod = factory(rng, i)
            payload = orjson.dumps(pod)
            raw_total += len(payload)
            stripped_total += len(orjson.dumps(strip_managed_fields(pod)))
            f.write(payload + b"\n")
    return source, raw_total / n, stripped_total / n


# ---- candidates --------------------------------------------------------------------------


class _Record:
    __slots__ = ("document", "key", "namespace", "resource_version", "uid")

    def __init__(self, key: str, namespace: str, uid: str, rv: str, document: bytes) -> None:
        self.key = key
        self.namespace = namespace
        self.uid = uid
        self.resource_version = rv
        self.document = document


def _record(obj: dict[str, Any], document: bytes) -> _Record:
    meta = obj["metadata"]
    return _Record(
        object_key(obj),
        sys.intern(meta.get("namespace", "")),
        meta.get("uid", ""),
        meta.get("resourceVersion", ""),
        document,
    )


class Candidate:
    """One representation: ingest payloads, then read objects and document bytes by key."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cache: dict[str, Any] = {}
        self.store = Store(name="pods")

    def ingest(self, payload: bytes) -> str:
        obj = orjson.loads(payload)
        if self.name == "store":
            return self.store.update(obj).key
        obj = strip_managed_fields(obj)
        key = object_key(obj)
        if self.name == "dict":
            self.cache[key] = obj
        elif self.name == "orjson":
            self.cache[key] = _record(obj, orjson.dumps(obj))
        elif self.name == "bytes":
            self.cache[key] = _record(obj, encode(obj))
        else:
            self.cache[key] = _record(obj, zlib.compress(orjson.dumps(obj), 1))
        return key

    def get(self, key: str) -> Any:
        if self.name == "store":
            return self.store.get_by_key(key)
        if self.name == "dict":
            return self.cache[key]  # shared and mutable: no copy, no protection
        if self.name in ("orjson", "bytes"):
            return freeze(orjson.loads(self.cache[key].document))
        return freeze(orjson.loads(zlib.decompress(self.cache[key].document)))

    def doc(self, key: str) -> bytes:
        if self.name == "store":
            record = self.store.get_stored(key)
            assert record is not None
            return record.document
        if self.name == "dict":
            return orjson.dumps(self.cache[key])
        if self.name in ("orjson", "bytes"):
            document: bytes = self.cache[key].document
            return document
        return zlib.decompress(self.cache[key].document)

    def stored_bytes(self) -> float:
        if self.name == "store":
            docs = [r.document for r in self.store.list_stored()]
        elif self.name == "dict":
            return 0.0
        else:
            docs = [r.document for r in self.cache.values()]
        return sum(map(len, docs)) / max(1, len(docs))


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _per_op_us(fn: Callable[[str], object], keys: list[str]) -> float:
    start = time.perf_counter()
    for key in keys:
        fn(key)
    return (time.perf_counter() - start) / len(keys) * 1e6


def run_child(candidate: str, n: int, path: Path) -> dict[str, Any]:
    """Measure one candidate at one size in this (fresh) interpreter."""
    with path.open("rb") as f:
        payloads = [next(f).rstrip(b"\n") for _ in range(n)]
    c = Candidate(candidate)
    gc.collect()
    rss0, tracked0 = _rss(), len(gc.get_objects())
    start = time.perf_counter()
    keys = [c.ingest(p) for p in payloads]
    ingest_us = (time.perf_counter() - start) / n * 1e6
    gc.collect()
    rss1, tracked1 = _rss(), len(gc.get_objects())
    pauses = []
    for _ in range(3):
        start = time.perf_counter()
        gc.collect()
        pauses.append(time.perf_counter() - start)
    sample = random.Random(7).sample(keys, min(n, GET_SAMPLES))
    return {
        "candidate": candidate,
        "n": n,
        "rss_bytes_per_object": (rss1 - rss0) / n,
        "gc_tracked_per_object": (tracked1 - tracked0) / n,
        "gc_full_pause_s": statistics.median(pauses),
        "ingest_us": ingest_us,
        "get_us": _per_op_us(c.get, sample),
        "doc_us": _per_op_us(c.doc, sample),
        "stored_doc_bytes": c.stored_bytes(),
    }


# ---- driver ------------------------------------------------------------------------------


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'candidate':<9} {'pods':>7} {'RSS/pod':>10} {'GC objs/pod':>11} {'full GC':>9} "
        f"{'ingest':>9} {'get()':>8} {'doc':>8} {'doc size':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['candidate']:<9} {r['n']:>7} {r['rss_bytes_per_object'] / 1024:>6.1f} KiB "
            f"{r['gc_tracked_per_object']:>11.1f} {r['gc_full_pause_s'] * 1000:>6.1f} ms "
            f"{r['ingest_us']:>6.1f} us {r['get_us']:>5.1f} us {r['doc_us']:>5.1f} us "
            f"{r['stored_doc_bytes']:>7.0f} B"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--candidates", nargs="+", choices=CANDIDATES, default=list(CANDIDATES))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", choices=CANDIDATES, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_child(args.child, args.n, args.input)))
        return 0

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pods.jsonl"
        start = time.perf_counter()
        source, raw, stripped = generate(path, max(args.sizes))
        print(
            f"generated {max(args.sizes)} Pods with the {source} generator in "
            f"{time.perf_counter() - start:.0f} s: {raw:.0f} B JSON each, {stripped:.0f} B "
            "without managedFields"
        )
        rows = []
        for n in args.sizes:
            for candidate in args.candidates:
                cmd = [sys.executable, "-m", "bench.store_memory", "--child", candidate]
                cmd += ["--n", str(n), "--input", str(path)]
                done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=True)
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(_table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(_table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        **result_header("store_memory"),
        "pod_generator": source,
        "pod_json_bytes": round(raw),
        "pod_json_bytes_without_managed_fields": round(stripped),
        "results": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
