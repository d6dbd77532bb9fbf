"""The benchmarks' simulated cluster: Pods in 40 namespaces, realistic and quick to build.

Used inside the simulated cluster's child process of ``bench.suite``, ``bench.sync_throughput``
and ``bench.listwatch`` (imported there, so the parent process never loads the sim). 200 Pods
come from the sim's own factory (4-8 KB of JSON each, managedFields and owner chains included);
the rest are copies of them under new names, which is ~50x faster than making each one.
"""

from __future__ import annotations

import json
import random

from informer_mirror.sim.objects_pods import make_pod
from informer_mirror.sim.state import ClusterState

NAMESPACES = [f"team-{i:02d}" for i in range(40)]
TEMPLATES = 200


def populate_pods(state: ClusterState, pods: int, rng: random.Random) -> None:
    """Create the namespaces and ``pods`` Pods named ``pod-000000``... in ``state``."""
    for ns in NAMESPACES:
        state.create("namespaces", {"metadata": {"name": ns}})
    templates = []
    for i in range(TEMPLATES):
        pod = make_pod(rng, namespace=NAMESPACES[i % 40], name=f"t-{i}", node_name=f"node-{i % 50}")
        pod["metadata"].pop("generateName", None)
        templates.append(json.dumps(pod))
    for i in range(pods):
        pod = json.loads(templates[i % TEMPLATES])
        pod["metadata"]["name"] = f"pod-{i:06d}"
        pod["metadata"]["namespace"] = NAMESPACES[i % 40]
        state.create("pods", pod)
