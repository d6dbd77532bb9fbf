"""Writing a kubeconfig that points kubectl and the official client at a simulated API server.

Place in the data flow: called once per server, by ``SimHandle.write_kubeconfig`` (tests, on their
thread) and by ``run_sim_forever`` (the CLI's main thread) after the server listens. Owns nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

CLUSTER = "informer-mirror-sim"
USER = "informer-mirror-sim"
CONTEXT = "informer-mirror-sim"


def kubeconfig_dict(
    url: str, *, token: str | None = None, namespace: str = "default"
) -> dict[str, Any]:
    """A one-cluster, one-user, one-context kubeconfig for ``url`` (plain HTTP)."""
    user: dict[str, Any] = {"token": token} if token else {}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER, "cluster": {"server": url}}],
        "users": [{"name": USER, "user": user}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CLUSTER, "user": USER, "namespace": namespace}}
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(path: Path, url: str, *, token: str | None = None) -> Path:
    """Write the kubeconfig to ``path`` atomically, readable only by its owner (it may hold a
    token). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    text = yaml.safe_dump(kubeconfig_dict(url, token=token), sort_keys=False)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path
