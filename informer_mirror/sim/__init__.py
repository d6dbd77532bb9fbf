"""A simulated Kubernetes API server over real HTTP: the test bed, demo and benchmark load.

Place in the data flow: stands in for the Kubernetes API at the very start of the pipeline; the
informer (through ``kube/``), the official client and kubectl talk to it unchanged. In-process use
(tests, benchmarks) goes through :func:`start_sim`, which returns a :class:`SimHandle` with the URL,
the ``ClusterState`` (the truth to compare a mirror with) and the ``FaultInjector``; the CLI's
``informer-mirror sim`` runs :func:`run_sim_forever` on its main thread.

Modules: ``state`` (objects, RVs, history), ``table`` (one kind's storage), ``watchers`` (watch
subscriptions), ``selectors``, ``apierrors`` (Status errors), ``api`` (resource endpoints),
``discovery``, ``watchstream`` (serving a watch), ``server`` (HTTP and lifecycle), ``faults`` and
``control`` (fault injection, ``/_sim/``), ``kubeconfig``; ``objects*`` and ``churn`` (realistic
objects and change) build on the state.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from pathlib import Path

from informer_mirror.sim.faults import FaultInjector
from informer_mirror.sim.kubeconfig import write_kubeconfig
from informer_mirror.sim.server import SimOptions, SimServer
from informer_mirror.sim.state import ClusterState

__all__ = [
    "ClusterState",
    "FaultInjector",
    "SimHandle",
    "SimOptions",
    "run_sim_forever",
    "start_sim",
]

log = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class SimHandle:
    """A running simulated API server, as :func:`start_sim` returns it."""

    url: str
    """``http://127.0.0.1:PORT``."""
    port: int
    state: ClusterState
    faults: FaultInjector
    server: SimServer
    token: str | None = None

    def write_kubeconfig(self, path: Path, *, token: str | None = None) -> Path:
        """Write a kubeconfig pointing at this server (with the server's token by default)."""
        return write_kubeconfig(path, self.url, token=token if token is not None else self.token)

    def stop(self) -> None:
        """Stop the server: every watch and connection closed, every thread joined."""
        self.server.stop()


def start_sim(
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    state: ClusterState | None = None,
    bookmark_interval: float = 60.0,
    token: str | None = None,
    bookmark_before_end: float = 2.0,
    too_large_wait: float = 3.0,
) -> SimHandle:
    """Start a simulated API server on ``host:port`` (0: a free port) serving ``state`` (a new,
    empty cluster by default). The options are :class:`SimOptions`' (seconds)."""
    state = state if state is not None else ClusterState()
    options = SimOptions(
        bookmark_interval=bookmark_interval,
        bookmark_before_end=bookmark_before_end,
        too_large_wait=too_large_wait,
        token=token,
    )
    server = SimServer(state, host=host, port=port, options=options)
    server.start()
    return SimHandle(
        url=server.url,
        port=server.port,
        state=state,
        faults=server.faults,
        server=server,
        token=token,
    )


def run_sim_forever(
    *,
    port: int,
    kubeconfig: Path,
    objects: int,
    churn: float,
    seed: int,
    stop: threading.Event,
    host: str = "127.0.0.1",
    bookmark_interval: float = 60.0,
) -> None:
    """Populate a cluster with about ``objects`` objects, serve it on ``host:port``, write a
    kubeconfig for it, change it at ``churn`` operations per second, until ``stop`` is set."""
    from informer_mirror.sim import objects as sim_objects  # noqa: PLC0415 - heavy, CLI-only

    rng = random.Random(seed)  # noqa: S311 - reproducible simulation, not cryptography
    state = ClusterState()
    if objects > 0:
        sim_objects.populate(state, objects, rng)
    handle = start_sim(port=port, host=host, state=state, bookmark_interval=bookmark_interval)
    churn_stop = threading.Event()
    churner = None
    try:
        if churn > 0:
            from informer_mirror.sim.churn import ChurnGenerator  # noqa: PLC0415

            churner = ChurnGenerator(state, rate=churn, rng=rng, stop=churn_stop)
            churner.start()
        handle.write_kubeconfig(kubeconfig)
        log.info("simulated cluster ready at %s (kubeconfig %s)", handle.url, kubeconfig)
        stop.wait()
    finally:
        churn_stop.set()
        if churner is not None:
            churner.join()
        handle.stop()
