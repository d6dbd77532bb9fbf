"""The benchmarks' simulated cluster: Pods in 40 namespaces, realistic and quick to build.

Used inside the simulated cluster's child process of ``bench.suite``, ``bench.sync_throughput``
and ``bench.listwatch`` (imported there, so the parent process never loads the sim), which
answer their parent's requests with :func:`serve_sim`. 200 Pods
come from the sim's own factory (4-8 KB of JSON each, managedFields included), each the Pod of a
Deployment's ReplicaSet as a real cluster has them: three labels (``app``,
``pod-template-hash``, ``app.kubernetes.io/part-of``), a ``generateName`` and a controller
``ownerReference``. The rest are copies of them under new names in their ReplicaSet's
``generateName`` style, which is ~50x faster than making each one.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from informer_mirror.sim import SimHandle
from informer_mirror.sim.objects_meta import template_hash
from informer_mirror.sim.objects_pods import make_pod
from informer_mirror.sim.state import ClusterState

NAMESPACES = [f"team-{i:02d}" for i in range(40)]
TEMPLATES = 200


def populate_pods(state: ClusterState, pods: int, rng: random.Random) -> None:
    """Create the namespaces, one ReplicaSet per template, and ``pods`` Pods owned by them
    (named ``<replicaset>-<5 hex digits>``) in ``state``."""
    for ns in NAMESPACES:
        state.create("namespaces", {"metadata": {"name": ns}})
    templates = []
    for i in range(TEMPLATES):
        namespace = NAMESPACES[i % len(NAMESPACES)]
        app = f"app-{i:03d}"
        replicaset = f"{app}-{template_hash(rng)}"
        labels = {
            "app": app,
            "pod-template-hash": replicaset.rsplit("-", 1)[1],
            "app.kubernetes.io/part-of": "shop",
        }
        owner = state.create(
            "replicasets",
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {"name": replicaset, "namespace": namespace, "labels": labels},
            },
        )
        pod = make_pod(
            rng,
            namespace=namespace,
            name=f"{replicaset}-00000",
            node_name=f"node-{i % 50}",
            owner=owner,
            labels=labels,
        )
        templates.append(json.dumps(pod))
    for i in range(pods):
        pod = json.loads(templates[i % TEMPLATES])
        pod["metadata"]["name"] = f"{pod['metadata']['generateName']}{i // TEMPLATES:05x}"
        state.create("pods", pod)


def serve_sim(
    conn: Connection, sim: SimHandle, commands: Mapping[str, Callable[[Any], Any]]
) -> None:
    """Answer the parent's ``(command, arg)`` requests until one it does not know (``stop``),
    then stop the sim. Every benchmark's sim knows ``kubeconfig`` (a path to one), ``stall`` and
    ``unstall`` (hold and release the watches, for a burst of events); ``commands`` add theirs:
    each is called with ``arg`` and its return value is the answer."""

    scratch = tempfile.TemporaryDirectory(prefix="bench-sim-")  # removed when the sim stops
    path = sim.write_kubeconfig(Path(scratch.name) / "kubeconfig")

    def kubeconfig(_arg: Any) -> str:
        return str(path)

    def stall(_arg: Any) -> str:
        sim.faults.stall_watches(new_watches=True)
        return "ok"

    def unstall(_arg: Any) -> str:
        sim.faults.unstall_watches()
        return "ok"

    handlers = {"kubeconfig": kubeconfig, "stall": stall, "unstall": unstall, **commands}
    try:
        while True:
            command, arg = conn.recv()
            handler = handlers.get(command)
            if handler is None:
                return
            conn.send(handler(arg))
    finally:
        sim.stop()
        scratch.cleanup()
