"""Chaos convergence, model-based: a seeded random schedule of creates, updates and deletes across
kinds, interleaved with faults at every seam, then quiesce and compare the backend with the sim's
state document by document.

The model is the simulated cluster itself (its state is the truth); the system under test is the
daemon's pipeline: real informers over real HTTP -> WorkQueue -> BatchWriter -> SQLite, through a
fault-injecting Backend wrapper (``tests.writer.fakes.FaultyBackend``) at our seam. Faults:
dropped, cleanly closed and stalled watches, forced 410s (history compacted, then the watches
dropped: the re-watch is answered Gone and the reflector relists, in small pages so a later
compaction can expire its continue token), apiserver 500/503/429 bursts, backend outages, and
abrupt mirror restarts (stopped without draining: queued keys are lost, as in a crash, and the
next life's start-up reconciliation must repair them). A second test runs the real daemon
(``informer-mirror run``) through a seeded schedule with SIGKILL and restart, SIGTERM while a
flush is held up by the database, and watch faults, then compares the SQLite file with the sim.

After the schedule every fault is lifted; the mirror must then converge: every object present at
its latest resourceVersion, nothing deleted left behind, no key held by two documents. A failing
seed prints its schedule; replay one with ``CHAOS_SEEDS=<seed> pytest tests/reliability``.
``CHAOS_SCHEDULES=N`` runs N seeds (CI runs 3); ``CHAOS_DAEMON_SCHEDULES=N`` runs the first N
of them through the daemon test too (CI runs 1: each daemon life is a new process).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from informer_mirror.backends import Backend, SqliteBackend
from informer_mirror.errors import BackendError
from informer_mirror.informer.reflector_types import ReflectorOptions
from informer_mirror.retry import BackoffPolicy
from informer_mirror.sim import SimHandle
from informer_mirror.sim.apierrors import SimError
from tests.backends.support import REGISTRY, sqlite_backend
from tests.e2e.support import DaemonProcess, mirror_differences, run_daemon
from tests.e2e.test_run import daemon_config, database_write_lock
from tests.helpers import deployment_obj, namespace_obj, pod_obj, wait_until
from tests.writer.fakes import Mirror

RESOURCES = ("namespaces", "pods", "configmaps", "deployments")
NAMESPACES = ("default", "shop", "jobs")
STEPS = 60
FAST_REFLECTOR = BackoffPolicy(initial=0.01, cap=0.05)
SMALL_PAGES = ReflectorOptions(page_size=4, force_page_size=True)


def _seeds() -> list[int]:
    if "CHAOS_SEEDS" in os.environ:
        return [int(s) for s in os.environ["CHAOS_SEEDS"].split(",") if s.strip()]
    return list(range(int(os.environ.get("CHAOS_SCHEDULES", "3"))))


# ---- the schedule -----------------------------------------------------------------------------

FAULTS = (
    "drop_watches",
    "close_watches",
    "stall_watches",
    "unstall_watches",
    "gone",
    "gone_mid_list",
    "burst_500",
    "burst_503",
    "burst_429",
    "backend_down",
    "backend_up",
    "crash_restart",
    "settle",
)


def schedule(seed: int, steps: int = STEPS) -> list[tuple[str, str]]:
    """``steps`` operations: (verb, resource) changes, about one in four a (fault, name)."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for _ in range(steps):
        if rng.random() < 0.25:
            out.append(("fault", rng.choice(FAULTS)))
        else:
            verb = rng.choices(["create", "update", "delete"], weights=[4, 4, 2])[0]
            out.append((verb, rng.choice(RESOURCES[1:])))
    return out


@dataclass
class Run:
    """Applies a schedule to the sim and the mirror; remembers what it did for the report."""

    sim: SimHandle
    kubeconfig: Path
    path: Path
    seed: int
    mirror: Mirror | None = None
    backends: list[Backend] = field(default_factory=list)
    serial: int = 0
    rng: random.Random = field(init=False)
    log: list[str] = field(default_factory=list)
    backend_down: bool = False
    stalled: bool = False
    expired_pages: int = 0
    """Continue tokens that expired mid-list (``gone_mid_list`` lands most times, not always)."""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed * 7919 + 1)

    def start_mirror(self) -> Mirror:
        backend = sqlite_backend(self.path)
        self.backends.append(backend)
        self.mirror = Mirror(
            self.kubeconfig,
            backend,
            RESOURCES,
            reflector_options=SMALL_PAGES,
            backoff_policy=FAST_REFLECTOR,
        ).start()
        if self.backend_down:
            self.mirror.backend.down.set()
        return self.mirror

    def populate(self) -> None:
        for namespace in NAMESPACES:
            self.sim.state.create("namespaces", namespace_obj(namespace, team=namespace))
        for resource in RESOURCES[1:]:
            for _ in range(6):
                self.change("create", resource)

    def change(self, verb: str, resource: str) -> None:
        state = self.sim.state
        existing = state.list_objects(resource)
        if verb == "create" or not existing:
            self.serial += 1
            namespace = self.rng.choice(NAMESPACES)
            name = f"{resource[:3]}-{self.serial}"
            if resource == "pods":
                obj = pod_obj(name, namespace, app=self.rng.choice(["web", "db"]))
            elif resource == "deployments":
                obj = deployment_obj(name, namespace, replicas=self.rng.randrange(1, 4))
            else:
                obj = {"metadata": {"name": name, "namespace": namespace}, "data": {"n": "0"}}
            state.create(resource, obj)
            return
        victim = self.rng.choice(existing)
        meta = victim["metadata"]
        if verb == "delete":
            state.delete(resource, meta["namespace"], meta["name"])
            return
        meta.setdefault("labels", {})["rev"] = str(self.rng.randrange(10**6))
        state.update(resource, victim)

    def requests(self, *, status: int | None = None, query: str = "") -> int:
        """How many API requests the sim has logged (answered ``status``, query containing)."""
        return sum(
            1
            for r in self.sim.faults.requests()
            if (status is None or r.status == status) and query in r.query
        )

    def lists(self) -> int:
        return sum(1 for r in self.sim.faults.requests() if "watch" not in r.query)

    def witness(self, what: str, predicate: Any) -> None:
        """Wait until the fault visibly hit the mirror (so faults interleave with its work)."""
        wait_until(predicate, timeout=10, message=f"{what}: no effect\n{self.report()}")

    def fault(self, name: str) -> None:
        faults = self.sim.faults
        mirror = self.mirror
        assert mirror is not None
        watches = self.requests(query="watch=")
        if name in ("drop_watches", "close_watches"):
            # A stalled stream sends no byte, not even a clean close's last chunk: that close
            # lands once the stall is lifted. Witness a close only when an open watch can end now
            # (a drop always lands, and with no watch open a re-watch is on its way anyway).
            visible = name == "drop_watches" or any(
                not watcher.stalled for watcher in self.sim.server.watchers()
            )
            getattr(faults, name)()
            if visible:
                self.witness(name, lambda: self.requests(query="watch=") > watches)
        elif name == "unstall_watches":
            faults.unstall_watches()
            self.stalled = False
        elif name == "stall_watches":
            faults.stall_watches(new_watches=self.rng.random() < 0.5)
            self.stalled = True
        elif name == "gone":  # every RV handed out is compacted: the re-watch is Gone, relist
            lists = self.lists()
            faults.expire_history()
            faults.drop_watches()
            self.witness(name, lambda: self.lists() > lists)
        elif name == "gone_mid_list":  # and the relist's continue token expires mid-way
            expired = self.requests(status=410, query="continue=")
            pages = self.requests(query="continue=")
            lists = self.lists()
            faults.set_delay(0.2)  # every answer held: a page request waits while we compact
            faults.expire_history()
            faults.drop_watches()
            # Best effort from here: a page request held by the delay meets the compaction.
            self.witness(name, lambda: self.lists() > lists)
            with contextlib.suppress(AssertionError):  # not every relist has a second page
                wait_until(lambda: self.requests(query="continue=") > pages, timeout=1)
            faults.expire_history()
            faults.set_delay(0)
            self.expired_pages += self.requests(status=410, query="continue=") - expired
        elif name.startswith("burst_"):  # the re-watches meet the failures
            status = int(name.removeprefix("burst_"))
            retry = 0 if status in (429, 503) else None
            count = self.rng.randrange(1, 4)
            before = self.requests(status=status)
            faults.fail_next(count, status=status, retry_after=retry)
            faults.drop_watches()
            self.witness(name, lambda: self.requests(status=status) >= before + count)
        elif name == "backend_down":
            mirror.backend.down.set()
            self.backend_down = True
        elif name == "backend_up":
            mirror.backend.down.clear()
            self.backend_down = False
        elif name == "crash_restart":
            mirror.stop(drain_timeout=0)
            self.start_mirror()
        elif name == "settle" and not (self.stalled or self.backend_down):
            wait_until(lambda: differences(self) == [], timeout=20, message=self.report())

    def apply(self, step: tuple[str, str]) -> None:
        self.log.append(f"{step[0]} {step[1]}")
        if step[0] == "fault":
            self.fault(step[1])
        else:
            with contextlib.suppress(SimError):  # refused by the sim: the model stays the truth
                self.change(*step)

    def quiesce(self) -> None:
        """Lift every fault; the mirror must converge from here."""
        self.sim.faults.reset()
        self.sim.faults.unstall_watches()
        self.stalled = False
        assert self.mirror is not None
        self.mirror.backend.down.clear()
        self.backend_down = False

    def report(self) -> str:
        steps = "\n  ".join(self.log)
        return (
            f"chaos seed {self.seed} diverged; replay: CHAOS_SEEDS={self.seed} pytest "
            f"tests/reliability/test_chaos.py\nschedule:\n  {steps}\n"
            f"differences: {differences(self)[:10]}"
        )


def differences(run: Run) -> list[str]:
    """How the backend differs from the sim, document by document; empty when exact."""
    assert run.mirror is not None
    backend = run.mirror.backend.inner
    out: list[str] = []
    for resource in RESOURCES:
        spec = REGISTRY[resource]
        truth = {
            o["metadata"]["uid"]: o["metadata"]["resourceVersion"]
            for o in run.sim.state.list_objects(resource)
        }
        try:
            stored = backend.versions(spec)
        except BackendError as e:  # before the writer created the table
            out.append(f"{resource}: {e}")
            continue
        out += [f"{resource} {uid} missing" for uid in truth.keys() - stored.keys()]
        out += [f"{resource} {uid} left behind" for uid in stored.keys() - truth.keys()]
        out += [
            f"{resource} {uid} at {stored[uid]}, not {rv}"
            for uid, rv in truth.items()
            if uid in stored and stored[uid] != rv
        ]
        page = backend.query(spec, limit=1000)
        keys = [(d.get("namespace"), d["name"]) for d in page.items]
        if len(keys) != len(set(keys)) or page.total != len(stored):
            out.append(f"{resource}: a key is held by more than one document")
    return out


@pytest.fixture
def run(sim: SimHandle, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Run]:
    seed = request.node.callspec.params["seed"]
    the_run = Run(
        sim=sim,
        kubeconfig=sim.write_kubeconfig(tmp_path / "kubeconfig"),
        path=tmp_path / "mirror.db",
        seed=seed,
    )
    try:
        yield the_run
    finally:
        sim.faults.reset()
        sim.faults.unstall_watches()
        if the_run.mirror is not None:
            the_run.mirror.backend.down.clear()
            the_run.mirror.stop()
        for backend in the_run.backends:
            backend.close()


@pytest.mark.parametrize("seed", _seeds())
def test_after_a_random_schedule_of_changes_and_faults_the_backend_equals_the_cluster(
    run: Run, seed: int
) -> None:
    run.populate()
    run.start_mirror()
    wait_until(lambda: differences(run) == [], timeout=20, message=run.report())
    for step in schedule(seed):
        run.apply(step)
    run.quiesce()
    wait_until(lambda: differences(run) == [], timeout=30, message=run.report())
    assert run.mirror is not None
    assert run.mirror.writer.status().circuit == "closed"


def test_a_schedule_is_a_pure_function_of_its_seed_so_a_failure_can_be_replayed() -> None:
    assert schedule(11) == schedule(11)
    assert schedule(11) != schedule(12)
    kinds = {name for verb, name in schedule(11, steps=400) if verb == "fault"}
    assert kinds == set(FAULTS)


# ---- the daemon process: SIGKILL and restart, SIGTERM during a flush ---------------------------

DAEMON_FAULTS = ("sigkill_restart", "sigterm_during_flush", "drop_watches", "gone", "burst_500")


def daemon_schedule(seed: int, steps: int = 40) -> list[tuple[str, str]]:
    """Changes, with a daemon-process fault about every eight steps (each kind at least once)."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    faults = list(DAEMON_FAULTS)
    rng.shuffle(faults)
    for i in range(steps):
        if i % 8 == 7:
            out.append(("fault", faults.pop() if faults else rng.choice(DAEMON_FAULTS)))
        else:
            verb = rng.choices(["create", "update", "delete"], weights=[4, 4, 2])[0]
            out.append((verb, rng.choice(RESOURCES[1:])))
    return out


def writing(daemon: DaemonProcess) -> bool:
    """A write is in flight (held up by the database lock)."""
    code, status = daemon.get("/api/v1/status")
    return code == 200 and status["writer"]["inFlight"] > 0


def _daemon_seeds() -> list[int]:
    return _seeds()[: int(os.environ.get("CHAOS_DAEMON_SCHEDULES", "1"))]


@pytest.mark.parametrize("seed", _daemon_seeds())
def test_the_daemon_killed_restarted_and_stopped_mid_flush_converges_to_the_cluster(
    sim: SimHandle, tmp_path: Path, seed: int
) -> None:
    database = tmp_path / "mirror.db"
    config = daemon_config(
        tmp_path,
        sim.write_kubeconfig(tmp_path / "kubeconfig"),
        resources={"include": list(RESOURCES)},
    )
    run = Run(sim=sim, kubeconfig=tmp_path / "kubeconfig", path=database, seed=seed)
    run.populate()
    daemons = [run_daemon(config)]
    try:
        daemons[-1].wait_ready()
        for step in daemon_schedule(seed):
            run.log.append(f"{step[0]} {step[1]}")
            daemon = daemons[-1]
            if step == ("fault", "sigkill_restart"):
                assert daemon.kill() == -signal.SIGKILL
                daemons.append(run_daemon(config))
                daemons[-1].wait_ready()
            elif step == ("fault", "sigterm_during_flush"):
                with database_write_lock(database):  # the flush cannot finish before SIGTERM
                    run.change("create", "configmaps")
                    wait_until(partial(writing, daemon))
                    daemon.signal(signal.SIGTERM)
                    daemon.log_match(r"writer: draining")
                assert daemon.wait() == 0, daemon.stderr[-20:]
                daemons.append(run_daemon(config))
                daemons[-1].wait_ready()
            elif step == ("fault", "drop_watches"):
                sim.faults.drop_watches()
            elif step == ("fault", "gone"):
                sim.faults.expire_history()
                sim.faults.drop_watches()
            elif step == ("fault", "burst_500"):
                sim.faults.fail_next(3, status=500)
                sim.faults.drop_watches()
            else:
                with contextlib.suppress(SimError):
                    run.change(*step)
        sim.faults.reset()
        last: list[str] = []

        def exact() -> bool:
            last[:] = mirror_differences(daemons[-1], sim, list(RESOURCES))
            return not last

        steps = "\n  ".join(run.log)
        wait_until(
            exact,
            timeout=20,
            message=f"daemon chaos seed {seed} diverged: {last[:10]}\nschedule:\n  {steps}",
        )
        assert daemons[-1].terminate() == 0
    finally:
        for daemon in daemons:
            daemon.__exit__(None, None, None)
    # And the file itself, document by document, once the daemon is gone.
    backend = SqliteBackend(database, cluster="e2e")  # daemon_config's cluster name
    try:
        for resource in RESOURCES:
            truth = {
                o["metadata"]["uid"]: o["metadata"]["resourceVersion"]
                for o in sim.state.list_objects(resource)
            }
            assert backend.versions(REGISTRY[resource]) == truth, resource
    finally:
        backend.close()
