"""Property: whatever happens to the cluster and the connection, the Store converges to the truth.

Hypothesis draws an initial set of pods and a sequence of operations, applied while the informer
runs (so they interleave with its list and watch at random): creates, updates, deletes (a create of
an existing name deletes and recreates it, a new UID), faults (watches dropped, closed, stalled;
history expired; 500 and 429 answers; a server restart), blackouts (changes no watch delivers,
then compaction: only a relist can find them) and pauses that let the informer catch up, so faults
hit a live watch as well as a list in flight. Once the faults are cleared, the Store must hold
exactly the sim's pods, with the same resourceVersions and UIDs. Backoffs use injected time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from informer_mirror.kube import ClientOptions
from informer_mirror.sim import SimHandle, start_sim
from informer_mirror.sim.apierrors import SimNotFound
from tests.helpers import wait_until
from tests.informer.rig import Rig, informer_rig, make_pod, prepare

NAMES = ("a", "b", "c", "d", "e")
FAULTS = ("drop", "close", "expire", "fail500", "fail429", "stall", "restart")

changes = st.tuples(st.sampled_from(("create", "update", "delete")), st.sampled_from(NAMES))
operations = st.lists(
    st.one_of(
        changes,
        st.tuples(st.just("fault"), st.sampled_from(FAULTS)),
        st.just(("settle", "")),
        # A blackout: nothing reaches the client while these changes happen, then the history
        # is compacted: only a relist (and its Replace diff) can find them, deletes included.
        st.tuples(st.just("blackout"), st.lists(changes, min_size=1, max_size=4)),
    ),
    max_size=20,
)


def _apply(sim: SimHandle, rig: Rig, op: tuple[str, Any], serial: int) -> None:
    what, arg = op
    state = sim.state
    if what == "blackout":
        sim.faults.stall_watches(new_watches=True)
        for change in arg:
            _apply(sim, rig, change, serial)
        rig.fake.advance(5)
        sim.faults.expire_history("pods")
        sim.faults.drop_watches()
        sim.faults.unstall_watches()
        return
    try:
        if what == "create":
            if any(p["metadata"]["name"] == arg for p in state.list_objects("pods")):
                state.delete("pods", "default", arg)  # recreated: same name, new UID
            state.create("pods", make_pod(arg))
        elif what == "update":
            pod = state.get("pods", "default", arg)
            pod["metadata"].setdefault("labels", {})["serial"] = str(serial)
            state.update("pods", pod)
        elif what == "delete":
            state.delete("pods", "default", arg)
        elif what == "settle":  # let the informer catch up, so the next fault hits a live watch
            expected = _pods(sim)
            wait_until(lambda: rig.informer.has_synced and _store(rig) == expected, timeout=15)
        else:
            _fault(sim, rig, arg)
    except SimNotFound:
        pass  # updating or deleting a pod that is not there: nothing happens


def _fault(sim: SimHandle, rig: Rig, fault: str) -> None:
    faults = sim.faults
    rig.fake.advance(5)  # time passes between operations on the injected clock
    if fault == "drop":
        faults.drop_watches()
    elif fault == "close":
        faults.close_watches()
    elif fault == "expire":
        faults.expire_history("pods")
        faults.drop_watches()
    elif fault == "fail500":
        faults.fail_next(2, status=500, resource="pods")
        faults.drop_watches()
    elif fault == "fail429":
        faults.fail_next(2, status=429, retry_after=1, resource="pods")
        faults.close_watches()
    elif fault == "stall":
        faults.stall_watches()
    else:
        faults.restart()


def _pods(sim: SimHandle) -> dict[str, tuple[str, str]]:
    return {
        f"default/{p['metadata']['name']}": (p["metadata"]["resourceVersion"], p["metadata"]["uid"])
        for p in sim.state.list_objects("pods")
    }


def _store(rig: Rig) -> dict[str, tuple[str, str]]:
    return {r.key: (r.resource_version, r.uid) for r in rig.informer.store.list_stored()}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(initial=st.sets(st.sampled_from(NAMES)), ops=operations)
def test_the_store_converges_to_the_cluster_state_whatever_the_interleaving_and_faults(
    tmp_path: Path, initial: set[str], ops: list[tuple[str, Any]]
) -> None:
    sim = start_sim(bookmark_interval=0.1)
    try:
        prepare(sim)
        for name in sorted(initial):
            sim.state.create("pods", make_pod(name))
        client_options = ClientOptions(read_timeout=0.3)
        with informer_rig(sim, tmp_path, client_options=client_options) as rig:
            for serial, op in enumerate(ops):  # serial: a distinct label value per update
                _apply(sim, rig, op, serial)
            sim.faults.reset()
            rig.fake.advance(5)
            expected: dict[str, Any] = _pods(sim)
            wait_until(lambda: rig.informer.has_synced and _store(rig) == expected, timeout=15)
    finally:
        sim.stop()
