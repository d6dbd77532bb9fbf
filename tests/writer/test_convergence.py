"""End to end: the simulated cluster over real HTTP -> real informers -> the BatchWriter -> a real
backend. After random churn (and a backend outage, and restarts) the backend must equal the
cluster, document by document: every object at its latest resourceVersion, nothing left over."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from informer_mirror.sim import SimHandle
from tests.backends.support import REGISTRY
from tests.helpers import namespace_obj, pod_obj, wait_until
from tests.writer.conftest import OpenBackend
from tests.writer.fakes import Mirror

RESOURCES = ("namespaces", "pods", "configmaps")
NAMESPACES = ("default", "shop", "jobs")


def truth(sim: SimHandle, resource: str) -> dict[str, str]:
    return {
        o["metadata"]["uid"]: o["metadata"]["resourceVersion"]
        for o in sim.state.list_objects(resource)
    }


def mirrored(mirror: Mirror, resource: str) -> dict[str, str]:
    return mirror.backend.inner.versions(REGISTRY[resource])


def equal_to_cluster(sim: SimHandle, mirror: Mirror) -> bool:
    return all(mirrored(mirror, r) == truth(sim, r) for r in RESOURCES)


class Churn:
    """Seeded random creates, updates and deletes of Pods and ConfigMaps."""

    def __init__(self, sim: SimHandle, seed: int) -> None:
        self.state = sim.state
        self.rng = random.Random(seed)
        self.serial = 0

    def populate(self, pods: int, configmaps: int) -> None:
        for namespace in NAMESPACES:
            self.state.create("namespaces", namespace_obj(namespace, team=namespace))
        for _ in range(pods):
            self.create("pods")
        for _ in range(configmaps):
            self.create("configmaps")

    def create(self, resource: str) -> None:
        self.serial += 1
        namespace = self.rng.choice(NAMESPACES)
        name = f"{resource[:-1]}-{self.serial}"
        if resource == "pods":
            obj = pod_obj(name, namespace, app=self.rng.choice(["web", "db", "batch"]))
        else:
            obj = {"metadata": {"name": name, "namespace": namespace}, "data": {"n": "0"}}
        self.state.create(resource, obj)

    def step(self) -> None:
        resource = self.rng.choice(["pods", "configmaps"])
        existing = self.state.list_objects(resource)
        roll = self.rng.random()
        if not existing or roll < 0.3:
            self.create(resource)
            return
        victim = self.rng.choice(existing)
        meta = victim["metadata"]
        if roll < 0.5:
            self.state.delete(resource, meta["namespace"], meta["name"])
            return
        if resource == "pods":
            victim.setdefault("status", {})["phase"] = self.rng.choice(["Running", "Failed"])
            meta.setdefault("labels", {})["rev"] = str(self.rng.randrange(1000))
        else:
            victim["data"] = {"n": str(self.rng.randrange(1000))}
        self.state.update(resource, victim)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()


@pytest.fixture
def kubeconfig(sim: SimHandle, tmp_path: Path) -> Path:
    return sim.write_kubeconfig(tmp_path / "kubeconfig")


NewMirror = Callable[[], Mirror]


@pytest.fixture
def new_mirror(sim: SimHandle, kubeconfig: Path, open_backend: OpenBackend) -> Iterator[NewMirror]:
    """Makes daemon lives on the same backend storage; stops each one afterwards (a second stop
    of one the test stopped itself does nothing)."""
    made: list[Mirror] = []

    def make() -> Mirror:
        made.append(Mirror(kubeconfig, open_backend(), RESOURCES))
        return made[-1]

    yield make
    for m in made:
        m.stop()


@pytest.fixture
def mirror(new_mirror: NewMirror) -> Mirror:
    return new_mirror()


def test_the_mirror_equals_the_cluster_after_random_churn(sim: SimHandle, mirror: Mirror) -> None:
    churn = Churn(sim, seed=7)
    churn.populate(pods=40, configmaps=15)
    mirror.start().wait_flushed()
    assert equal_to_cluster(sim, mirror)
    churn.run(300)
    wait_until(lambda: equal_to_cluster(sim, mirror), timeout=20)
    docs = mirror.backend.inner.query(REGISTRY["pods"], limit=1000).items
    for doc in docs:
        assert doc["_mirror"]["cluster"] == "test-cluster"
        assert doc["resourceVersion"] == truth(sim, "pods")[doc["uid"]]


def test_a_backend_outage_during_churn_loses_nothing(sim: SimHandle, mirror: Mirror) -> None:
    churn = Churn(sim, seed=11)
    churn.populate(pods=30, configmaps=10)
    mirror.start().wait_flushed()
    churn.run(100)
    mirror.backend.down.set()
    churn.run(150)
    wait_until(lambda: mirror.writer.status().circuit == "open", timeout=10)
    churn.run(50)
    assert not equal_to_cluster(sim, mirror)
    mirror.backend.down.clear()
    wait_until(lambda: equal_to_cluster(sim, mirror), timeout=20)
    status = mirror.writer.status()
    assert status.errors["transient"] >= 3
    assert status.circuit == "closed"


def test_a_restart_mirrors_what_changed_while_stopped_and_a_quiet_restart_writes_nothing(
    sim: SimHandle, new_mirror: NewMirror
) -> None:
    churn = Churn(sim, seed=5)
    churn.populate(pods=40, configmaps=10)
    first = new_mirror().start()
    first.wait_flushed()
    assert first.stop()

    for obj in sim.state.list_objects("pods")[:8]:  # deleted while nobody watched
        sim.state.delete("pods", obj["metadata"]["namespace"], obj["metadata"]["name"])
    churn.run(40)
    second = new_mirror().start()
    second.wait_flushed()
    assert equal_to_cluster(sim, second)
    assert second.writer.status().resources["pods"].stale_deleted >= 8
    assert second.stop()

    third = new_mirror().start()
    third.wait_flushed()
    assert equal_to_cluster(sim, third)
    assert third.stop()
    assert third.backend.written("upsert") == 0
    assert third.backend.written("delete") == 0
