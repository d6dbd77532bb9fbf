"""``informer-mirror demo``: the whole product on one machine, needing nothing but this package.

Place in the data flow: both ends of it in one process. :func:`run_demo` (the CLI's main thread)
populates a simulated cluster (``sim/``) and serves it over real HTTP on a free port with a churn
generator changing it (thread ``sim-churn``), writes a kubeconfig for it, then runs the same
composition root as ``informer-mirror run`` (``daemon.Daemon``) with the settings of
``config/demo.yaml`` (:data:`DEMO_CONFIG`; ``tests/test_demo.py`` keeps the two equal): SQLite
and the kubeconfig in ``--data-dir``, the API on ``127.0.0.1:--port``. Once the mirror is ready
it prints the URLs to try, and it runs until the stop event is set (Ctrl-C), then stops the daemon
(draining its writes), the churn and the simulated cluster.

A second run over the same data directory is a warm start against a new simulated cluster (new
uids), so the start-up reconciliation replaces the old documents: delete the directory to start
from scratch.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from informer_mirror.daemon import Daemon
from informer_mirror.notify import Notifier
from informer_mirror.settings import Settings, parse_settings
from informer_mirror.sim import ClusterState, SimHandle, start_sim
from informer_mirror.sim.churn import ChurnGenerator
from informer_mirror.sim.objects import populate

log = logging.getLogger(__name__)

KUBECONFIG_NAME = "sim.kubeconfig"
DATABASE_NAME = "mirror.db"

DEMO_CONFIG: Final[dict[str, Any]] = {
    "cluster": {"name": "demo", "kubeconfig": KUBECONFIG_NAME},
    "backend": {"kind": "sqlite", "path": DATABASE_NAME},
    "resources": {"include": ["all"], "resync_period": 120},
    "writer": {"batch_size": 500, "flush_interval": 0.1, "drain_timeout": 10},
    "api": {"enabled": True, "host": "127.0.0.1", "port": 8080, "token_file": None},
    "health": {
        "interval": 10,
        "max_retries": 5,
        "retry_delay": 2,
        "max_retry_delay": 30,
        "auto_reconnect": True,
    },
    "logging": {"level": "INFO", "format": "text"},
}
"""``config/demo.yaml`` as data (the package does not ship the repository's config/ directory);
paths are relative to the data directory, and ``api.port`` is replaced by ``--port``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoOptions:
    """The ``demo`` subcommand's arguments."""

    port: int = 8080
    """API port on 127.0.0.1; 0 picks a free one."""
    objects: int = 500
    """About this many objects in the simulated cluster."""
    churn: float = 5.0
    """Cluster changes per second; 0 turns churn off."""
    data_dir: Path = Path("demo-data")
    """Where the SQLite file and the kubeconfig go (created if missing)."""
    seed: int = 1
    """Random seed of the simulated cluster and its churn."""


def demo_settings(options: DemoOptions) -> Settings:
    """The validated settings of the demo: :data:`DEMO_CONFIG` under ``options.data_dir``."""
    data = copy.deepcopy(DEMO_CONFIG)
    data["api"]["port"] = options.port
    # No environment: the demo is not a systemd service and needs no $KUBECONFIG or $HOME.
    return parse_settings(data, env={}, base_dir=options.data_dir.absolute())


def run_demo(options: DemoOptions, *, stop: threading.Event, out: TextIO) -> int:
    """Run the demo until ``stop`` is set; the exit code (0). The banner goes to ``out``.
    Raises StartupError (e.g. the port is taken) after stopping what had started."""
    settings = demo_settings(options)
    options.data_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(options.seed)  # noqa: S311 - a reproducible simulation, not cryptography
    state = ClusterState()
    created = sum(populate(state, options.objects, rng).values()) if options.objects else 0
    sim = start_sim(port=0, state=state)
    churn_stop = threading.Event()
    churner: ChurnGenerator | None = None
    try:
        assert settings.cluster.kubeconfig is not None
        sim.write_kubeconfig(settings.cluster.kubeconfig)
        log.info("demo: simulated cluster with %d objects at %s", created, sim.url)
        if options.churn > 0:
            churner = ChurnGenerator(state, rate=options.churn, rng=rng, stop=churn_stop)
            churner.start()
        daemon = Daemon(settings, stop=stop, notifier=Notifier(None))

        def show_banner() -> None:
            out.write(banner(daemon, sim, settings, created, options))
            out.flush()

        try:
            if daemon.start():
                daemon.serve(on_ready=show_banner)
        finally:
            daemon.shutdown()
    finally:
        churn_stop.set()
        if churner is not None:
            churner.join()
        sim.stop()
    return 0


def banner(
    daemon: Daemon, sim: SimHandle, settings: Settings, objects: int, options: DemoOptions
) -> str:
    """What to try, printed once the mirror is ready."""
    api = daemon.api.url if daemon.api is not None else f"http://127.0.0.1:{options.port}"
    backend = settings.backend
    churn = f", {options.churn:g} changes per second" if options.churn > 0 else ""
    lines = [
        "",
        f"informer-mirror demo: a simulated cluster ({objects} objects{churn}) at {sim.url}",
        f"is mirrored into {getattr(backend, 'path', backend.kind)}, served at {api}",
        "",
        "Try:",
        f"  curl -s '{api}/api/v1/pods?limit=5'",
        f"  curl -s {api}/api/v1/stats/overview",
        f"  curl -s {api}/api/v1/status",
        f"  curl -s {api}/readyz",
        f"  curl -s {api}/metrics",
        f"  kubectl --kubeconfig {settings.cluster.kubeconfig} get pods -A",
        "",
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)
