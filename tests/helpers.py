"""Helpers shared by the test suite: polling with a deadline, and tiny object builders.

Tests never sleep to wait for a condition; they poll with :func:`wait_until`, which fails the test
with a message when the deadline passes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 5.0,
    *,
    interval: float = 0.01,
    message: str | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy (and return that), or fail the
    test once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout} s: {predicate}")
        pause.wait(interval)


def namespace_obj(name: str, **labels: str) -> dict[str, Any]:
    """A minimal Namespace as a client would submit it."""
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def pod_obj(
    name: str, namespace: str = "default", *, image: str = "nginx:1.27", **labels: str
) -> dict[str, Any]:
    """A minimal Pod as a client would submit it."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "main", "image": image}]},
        "status": {"phase": "Pending"},
    }


def deployment_obj(name: str, namespace: str = "default", *, replicas: int = 1) -> dict[str, Any]:
    """A minimal Deployment as a client would submit it."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
            },
        },
    }
