"""The churn generator: a realistic mix of changes that keeps owner chains consistent, survives
races with other writers, and runs on a stoppable thread paced by an injected clock."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from informer_mirror.kinds import BUILTIN_KINDS, KindInfo
from informer_mirror.sim.apierrors import SimConflict
from informer_mirror.sim.churn import MAX_LAG, ChurnGenerator, next_due
from informer_mirror.sim.objects import make_custom, make_namespace, populate
from informer_mirror.sim.state import ClusterState
from tests.sim.cluster_checks import owner_chain_problems, without_server_identity

NOW = 1_750_000_000.0


def _cluster(n: int = 800, seed: int = 7, state: ClusterState | None = None) -> ClusterState:
    state = state if state is not None else ClusterState(clock=lambda: NOW)
    populate(state, n, random.Random(seed), clock=lambda: NOW)
    return state


def _churn(state: ClusterState, seed: int = 8, **kwargs: Any) -> ChurnGenerator:
    return ChurnGenerator(
        state,
        rate=50.0,
        rng=random.Random(seed),
        stop=threading.Event(),
        wall_clock=lambda: NOW + 60,
        **kwargs,
    )


class FakeClock:
    """Monotonic time that only moves when the code under test waits."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class SteppingStop(threading.Event):
    """A stop event whose ``wait`` advances the fake clock instead of blocking, and which sets
    itself after ``waits`` waits: the churn thread runs at full speed through fake time."""

    def __init__(self, clock: FakeClock, waits: int) -> None:
        super().__init__()
        self.clock = clock
        self.waits_left = waits
        self.waited: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None, "churn must never wait without a timeout"
        self.waited.append(timeout)
        self.clock.now += timeout
        self.waits_left -= 1
        if self.waits_left <= 0:
            self.set()
        return self.is_set()


@dataclass
class ChurnRun:
    """One long churn run, shared by the tests that examine it."""

    churn: ChurnGenerator
    before: dict[str, dict[str, Any]]
    after: dict[str, dict[str, Any]]
    problems: list[str]


@pytest.fixture(scope="module")
def churn_run() -> ChurnRun:
    state = _cluster()
    before = state.snapshot()
    churn = _churn(state)
    problems: list[str] = []
    for step in range(2000):
        churn.step()
        if step % 400 == 399:  # between steps, never a dependent whose owner is gone
            problems += [f"after step {step + 1}: {p}" for p in owner_chain_problems(state)]
    return ChurnRun(churn=churn, before=before, after=state.snapshot(), problems=problems)


def test_two_thousand_churn_steps_keep_every_owner_chain_consistent(churn_run: ChurnRun) -> None:
    assert churn_run.problems == []
    assert churn_run.churn.operations > 1800
    assert churn_run.churn.races == 0
    assert churn_run.churn.failures == 0


def test_churn_mixes_creates_updates_and_deletes_dominated_by_events_and_pods(
    churn_run: ChurnRun,
) -> None:
    churn = churn_run.churn
    by_category = Counter[str]()
    for name, n in churn.performed.items():
        by_category[churn.category_of(name)] += n
    total = churn.operations
    assert 0.22 < by_category["create"] / total < 0.38
    assert 0.45 < by_category["update"] / total < 0.65
    assert 0.08 < by_category["delete"] / total < 0.22
    events_and_pods = sum(
        churn.performed[n]
        for n in ("create-event", "repeat-event", "expire-event", "pod-status", "replace-pod")
    )
    assert events_and_pods / total > 0.5
    assert len(churn.performed) == len(churn.operation_names), "every operation ran"


def test_churn_really_changes_pods_events_deployments_and_nodes(churn_run: ChurnRun) -> None:
    before, after = churn_run.before, churn_run.after
    for plural in ("pods", "events", "deployments", "replicasets", "jobs"):
        created = set(after[plural]) - set(before[plural])
        deleted = set(before[plural]) - set(after[plural])
        assert created, f"no {plural} created"
        assert deleted, f"no {plural} deleted"
    edited = [
        k
        for k, cm in after["configmaps"].items()
        if k in before["configmaps"] and cm["data"] != before["configmaps"][k]["data"]
    ]
    assert edited, "ConfigMaps are edited"
    changed_nodes = [
        k
        for k, node in after["nodes"].items()
        if node["metadata"]["resourceVersion"] != before["nodes"][k]["metadata"]["resourceVersion"]
    ]
    assert changed_nodes, "kubelet heartbeats update nodes"
    restarted = [
        p
        for p in after["pods"].values()
        if any(s["restartCount"] > 0 for s in p["status"].get("containerStatuses", []))
    ]
    assert restarted
    rolled = [
        d
        for d in after["deployments"].values()
        if int(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) > 4
    ]
    assert rolled, "rollouts add ReplicaSet revisions"


def test_the_same_seeds_churn_the_same_way() -> None:
    def run() -> tuple[list[str], dict[str, Any]]:
        state = _cluster(n=400, seed=3)
        churn = _churn(state, seed=4)
        steps = [churn.step() for _ in range(300)]
        return steps, without_server_identity(state)

    first = run()
    assert run() == first


def test_a_step_that_loses_a_race_is_skipped_and_counted_not_raised() -> None:
    class RacingState(ClusterState):
        """Once racing, every update finds the object changed by someone else."""

        racing = False

        def update(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
            if self.racing:
                name = obj["metadata"]["name"]
                raise SimConflict(f'{plural} "{name}": the object has been modified')
            return super().update(plural, obj)

    state = RacingState(clock=lambda: NOW)
    _cluster(n=300, state=state)
    state.racing = True
    churn = _churn(state, kinds=["nodes"])  # node heartbeats: nothing but updates
    description = churn.step()
    assert "lost a race" in description
    assert churn.races == 1
    assert churn.operations == 0


def test_churn_carries_on_when_someone_else_deletes_what_it_knows_about() -> None:
    state = _cluster(n=800)
    churn = _churn(state)
    for _ in range(20):  # churn has now listed pods, events, deployments...
        churn.step()
    for pod in state.list_objects("pods"):
        state.delete("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
    for event in state.list_objects("events"):
        state.delete("events", event["metadata"]["namespace"], event["metadata"]["name"])
    for _ in range(300):
        churn.step()
    assert churn.failures == 0
    assert churn.operations > 250
    assert owner_chain_problems(state) == []


def test_churn_restricted_to_some_kinds_writes_only_those() -> None:
    state = _cluster(n=800)
    before = state.snapshot()
    churn = _churn(state, kinds=["pods", "events"])
    assert set(churn.operation_names) == {
        "create-event",
        "repeat-event",
        "expire-event",
        "pod-status",
        "replace-pod",
    }
    for _ in range(300):
        churn.step()
    after = state.snapshot()
    for plural in after:
        if plural not in ("pods", "events"):
            assert after[plural] == before[plural], plural
    assert after["pods"] != before["pods"]
    assert after["events"] != before["events"]


def test_churn_of_a_custom_kind_creates_updates_and_deletes_its_objects() -> None:
    widgets = KindInfo(
        group="example.com",
        version="v1",
        plural="widgets",
        singular="widget",
        kind="Widget",
        namespaced=True,
    )
    state = ClusterState(kinds=(*BUILTIN_KINDS, widgets), clock=lambda: NOW)
    state.create("namespaces", make_namespace(random.Random(1), name="shop"))
    for i in range(5):
        state.create(
            "widgets.example.com",
            make_custom(widgets, random.Random(i), namespace="shop", name=f"w{i}"),
        )
    churn = _churn(state, kinds=["widgets.example.com"])
    for _ in range(200):
        churn.step()
    assert churn.performed["create-widgets.example.com"] > 0
    assert churn.performed["delete-widgets.example.com"] > 0
    updated = [
        w for w in state.list_objects("widgets.example.com") if w["metadata"]["generation"] > 1
    ]
    assert updated
    assert {w["kind"] for w in state.list_objects("widgets.example.com")} == {"Widget"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 0.0}, "rate must be > 0"),
        ({"rate": 5.0, "kinds": ["gadgets"]}, "not served"),
        ({"rate": 5.0, "kinds": ["namespaces"]}, "no churn operation"),
    ],
)
def test_a_bad_rate_or_kind_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChurnGenerator(ClusterState(), rng=random.Random(1), stop=threading.Event(), **kwargs)


def test_the_schedule_catches_up_after_a_slow_step_but_not_after_a_stall() -> None:
    assert next_due(10.0, now=10.005, interval=0.02) == pytest.approx(10.02)
    # a slow step: the next one is due at once, keeping the long-run rate
    assert next_due(10.0, now=10.05, interval=0.02) == pytest.approx(10.02)
    # a long stall: at most MAX_LAG of backlog is made up, not the whole pause
    assert next_due(10.0, now=25.0, interval=0.02) == pytest.approx(25.0 - MAX_LAG)


def test_the_churn_thread_paces_steps_by_its_clock_and_stops_when_told() -> None:
    state = _cluster(n=300)
    clock = FakeClock()
    stop = SteppingStop(clock, waits=40)
    churn = ChurnGenerator(
        state,
        rate=20.0,
        rng=random.Random(5),
        stop=stop,
        clock=clock,
        wall_clock=lambda: NOW,
    )
    churn.start()
    churn.join(timeout=30)
    assert not churn.alive
    assert threading.current_thread().name != "sim-churn"
    # one step per 1/20 s of fake time: the first at once, then one after each wait
    assert churn.steps == 40
    assert stop.waited == pytest.approx([0.05] * 40)
    assert churn.failures == 0
    with pytest.raises(RuntimeError):
        churn.start()


def test_a_churn_thread_whose_stop_is_already_set_does_nothing() -> None:
    stop = threading.Event()
    stop.set()
    churn = ChurnGenerator(ClusterState(), rate=100.0, rng=random.Random(1), stop=stop)
    churn.start()
    churn.join(timeout=30)
    assert not churn.alive
    assert churn.steps == 0
