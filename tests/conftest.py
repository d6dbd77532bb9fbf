"""Fixtures shared by the whole suite: a simulated API server per test, and an official-client
``ApiClient`` configured from the kubeconfig it writes (real HTTP, as the daemon would talk)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest

from informer_mirror.sim import SimHandle, start_sim

SIM_BOOKMARK_INTERVAL = 0.2
"""Seconds between watch bookmarks in tests (the real server's 60 s would stall the suite)."""


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    """A simulated API server on a free port with an empty cluster; stopped after the test."""
    handle = start_sim(
        port=0,
        bookmark_interval=SIM_BOOKMARK_INTERVAL,
        bookmark_before_end=0.2,
        too_large_wait=0.2,
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def kubeconfig(sim: SimHandle, tmp_path: Path) -> Path:
    """A kubeconfig file pointing at :func:`sim`."""
    return sim.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kube_api(kubeconfig: Path) -> Iterator[kubernetes.client.ApiClient]:
    """An official-client ``ApiClient`` loaded from the sim's kubeconfig (client defaults kept)."""
    api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield api
    finally:
        api.close()
