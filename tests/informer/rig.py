"""An Informer for pods wired to a simulated cluster over real HTTP, with injected time.

Shared by the reflector, informer and property tests: ``informer_rig`` builds the KubeClient from
the sim's kubeconfig, the ListerWatcher, a WorkQueue and an Informer whose backoff and circuit
cool-downs go through :class:`FakeTime` (so no test sleeps through a backoff), and counts the
requests the sim answered.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from informer_mirror.informer.informer import Informer
from informer_mirror.informer.reflector_types import ReflectorOptions
from informer_mirror.informer.store import Store
from informer_mirror.informer.workqueue import WorkQueue
from informer_mirror.kinds import BUILTIN_BY_PLURAL
from informer_mirror.kube import ApiResource, ClientOptions, KubeClient, KubeListerWatcher
from informer_mirror.retry import BreakerPolicy
from informer_mirror.sim import SimHandle
from tests.helpers import pod_obj
from tests.informer.fake_time import FakeTime

PODS = ApiResource.from_kind(BUILTIN_BY_PLURAL["pods"])
POD_PATH = "/api/v1/pods"


make_pod = pod_obj


def prepare(sim: SimHandle, namespaces: tuple[str, ...] = ("default",)) -> None:
    for namespace in namespaces:
        sim.state.create("namespaces", {"metadata": {"name": namespace}})


def _rv(obj: dict[str, Any]) -> str:
    rv: str = obj["metadata"]["resourceVersion"]
    return rv


@dataclass
class Rig:
    sim: SimHandle
    informer: Informer
    fake: FakeTime
    queue: WorkQueue[Any]
    client: KubeClient

    def list_requests(self) -> list[Any]:
        """Pod list requests the sim answered (watches excluded), oldest first."""
        return [
            r
            for r in self.sim.faults.requests(POD_PATH)
            if r.method == "GET" and "watch=" not in r.query
        ]

    def watch_requests(self) -> list[Any]:
        """Pod watch requests the sim answered (logged when they end)."""
        return [r for r in self.sim.faults.requests(POD_PATH) if "watch=" in r.query]

    def drain_queue(self) -> set[Any]:
        keys = set(self.queue.get_batch(100_000, timeout=0.0))
        for key in keys:
            self.queue.done(key)
        return keys

    def sim_pods(self) -> dict[str, str]:
        """``namespace/name -> resourceVersion`` of every pod in the sim."""
        pods = self.sim.state.list_objects("pods")
        return {f"{p['metadata']['namespace']}/{p['metadata']['name']}": _rv(p) for p in pods}

    def store_pods(self) -> dict[str, str]:
        return {r.key: r.resource_version for r in self.informer.store.list_stored()}


@contextmanager
def informer_rig(
    sim: SimHandle,
    tmp_path: Path,
    *,
    auto: bool = True,
    options: ReflectorOptions | None = None,
    client_options: ClientOptions | None = None,
    breaker: BreakerPolicy | None = None,
    store: Store | None = None,
    resource_version: str | None = None,
    resync_period: float = 0.0,
    start: bool = True,
    lister_watcher: Any = None,
) -> Iterator[Rig]:
    fake = FakeTime(auto=auto)
    client = KubeClient.from_kubeconfig(
        sim.write_kubeconfig(tmp_path / "kubeconfig"),
        options=client_options or ClientOptions(read_timeout=10.0),
    )
    queue: WorkQueue[Any] = WorkQueue(name="mirror")
    informer = Informer(
        name="pods",
        lister_watcher=lister_watcher or KubeListerWatcher(client, PODS),
        queue=queue,
        store=store,
        reflector_options=options,
        breaker_policy=breaker,
        resource_version=resource_version,
        resync_period=resync_period,
        stop=fake.stop_event,
        clock=fake.clock,
        rng=random.Random(1),
        wait=fake.wait,
    )
    fake.phase_of = lambda: informer.state().phase.value
    rig = Rig(sim=sim, informer=informer, fake=fake, queue=queue, client=client)
    if start:
        informer.start()
    try:
        yield rig
    finally:
        informer.stop()
        fake.stop()
        assert informer.join(10), "informer threads did not end"
        client.close()
