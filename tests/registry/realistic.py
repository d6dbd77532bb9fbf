"""Realistic objects for the registry tests: one populated simulated cluster, built once."""

from __future__ import annotations

import functools
import random
from typing import Any

from informer_mirror.sim.objects import populate
from informer_mirror.sim.state import ClusterState

NOW = 1_700_000_000.0

Objects = dict[str, list[dict[str, Any]]]


@functools.cache
def populated_cluster() -> Objects:
    """``plural -> objects`` of a ~1000-object simulated cluster (every built-in kind present),
    each as a list response carries it: without ``kind`` and ``apiVersion``. Built once; callers
    must not mutate the objects."""
    state = ClusterState()
    populate(state, 1000, random.Random(7), clock=lambda: NOW)
    return {
        plural: [
            {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
            for obj in by_key.values()
        ]
        for plural, by_key in state.snapshot().items()
    }
