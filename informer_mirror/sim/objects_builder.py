"""The bookkeeping under the builders that create groups of objects in a ``ClusterState``:
``Layout`` (nodes, pod IPs from each node's pod CIDR, unique Service cluster IPs, names already
taken) and ``StateWriter`` (creates, updates and deletes, counted; finalizers released on delete
as their controllers would; a bounded sample of created objects for Events to be about).

Place in the data flow: between the pure factories (``objects_*.py``) and ``ClusterState``; the
builders ``objects_infra`` -> ``objects_jobs`` -> ``objects_apps`` extend ``StateWriter``. Used by
``objects.populate`` (the initial cluster) and ``churn`` (at run time), each from its own single
thread; a builder is not shared between threads.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from informer_mirror.sim.objects_events import EVENT_KINDS
from informer_mirror.sim.objects_meta import Obj, suffix
from informer_mirror.sim.state import ClusterState, SimConflict, SimNotFound

_STUB_SAMPLE = 2000
"""Objects per kind kept (as small stubs) for events to be about: a bounded reservoir sample."""


@dataclass(slots=True)
class NodeSlot:
    """Where pods can land: one node, its address, and the next free IP of its pod CIDR."""

    name: str
    """Node name."""
    ip: str
    """InternalIP (the pods' hostIP)."""
    pod_prefix: str
    """The node's /24 pod CIDR without the last octet, e.g. ``10.128.5.``."""
    zone: str
    """topology.kubernetes.io/zone."""
    control_plane: bool
    """True for control-plane nodes (tainted: only DaemonSets and static pods run there)."""
    uid: str = ""
    """The Node's uid (static pods are owned by their node)."""
    next_host: int = 2
    """Next last octet to hand out; wraps within 2..254."""


class Layout:
    """Nodes, address allocation and taken names of one cluster."""

    def __init__(self) -> None:
        self.nodes: list[NodeSlot] = []
        self.service_ips: set[str] = set()
        self.taken: set[tuple[str, str, str]] = set()
        """(plural, namespace, name) known to exist, so apps get fresh names and dependencies
        are created once."""

    @property
    def workers(self) -> list[NodeSlot]:
        """Schedulable nodes (all nodes if there are no workers)."""
        return [n for n in self.nodes if not n.control_plane] or self.nodes

    @property
    def zones(self) -> dict[str, str]:
        """Node name -> zone."""
        return {n.name: n.zone for n in self.nodes}

    def pod_ip(self, node: NodeSlot) -> str:
        """The next IP of ``node``'s pod CIDR."""
        host = node.next_host
        node.next_host = 2 if host >= 254 else host + 1
        return f"{node.pod_prefix}{host}"

    def service_ip(self, rng: random.Random) -> str:
        """A free cluster IP in 10.96.0.0/12."""
        while True:
            ip = f"10.{96 + rng.randint(0, 15)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            if ip not in self.service_ips:
                self.service_ips.add(ip)
                return ip

    def fresh_name(self, plural: str, namespace: str, base: str, *also: str) -> str:
        """``base``, or ``base-2``, ``base-3``... whichever no object of ``plural`` (nor of the
        ``also`` plurals: a Deployment's Service shares its name) has taken yet; take it."""
        plurals = (plural, *also)
        name, n = base, 1
        while any((p, namespace, name) in self.taken for p in plurals):
            n += 1
            name = f"{base}-{n}"
        self.taken.update((p, namespace, name) for p in plurals)
        return name

    @classmethod
    def from_state(cls, state: ClusterState) -> Layout:
        """The layout of an existing cluster (for churn): its nodes, service IPs, app names."""
        layout = cls()
        for node in state.list_objects("nodes"):
            cidr = node["spec"].get("podCIDR", "10.128.0.0/24")
            addresses = node.get("status", {}).get("addresses", [])
            layout.nodes.append(
                NodeSlot(
                    name=node["metadata"]["name"],
                    ip=next((a["address"] for a in addresses if a["type"] == "InternalIP"), ""),
                    pod_prefix=cidr.rsplit(".", 1)[0] + ".",
                    zone=node["metadata"].get("labels", {}).get("topology.kubernetes.io/zone", ""),
                    control_plane="node-role.kubernetes.io/control-plane"
                    in node["metadata"].get("labels", {}),
                    uid=node["metadata"]["uid"],
                    # populate hands out IPs from .2 upwards; start churn's high to avoid reuse
                    next_host=200,
                )
            )
        for svc in state.list_objects("services"):
            layout.service_ips.update(svc["spec"].get("clusterIPs", []))
        for plural in ("deployments", "statefulsets", "cronjobs", "services"):
            for obj in state.list_objects(plural):
                layout.taken.add((plural, obj["metadata"]["namespace"], obj["metadata"]["name"]))
        return layout


def stub(obj: Obj) -> Obj:
    """The few fields of ``obj`` an Event about it needs (kept instead of the whole object)."""
    meta = obj["metadata"]
    small: Obj = {
        "kind": obj["kind"],
        "apiVersion": obj["apiVersion"],
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta
        },
        "spec": {},
    }
    if obj["kind"] == "Pod":
        small["spec"] = {
            "nodeName": obj["spec"].get("nodeName", ""),
            "containers": [
                {"name": c["name"], "image": c["image"]} for c in obj["spec"]["containers"]
            ],
        }
    return small


class StateWriter:
    """Writes to a ``ClusterState`` and counts what it created; shared base of the builders."""

    def __init__(
        self,
        state: ClusterState,
        rng: random.Random,
        *,
        clock: Callable[[], float] = time.time,
        layout: Layout | None = None,
        keep_stubs: bool = False,
    ) -> None:
        self.state = state
        self.rng = rng
        self.clock = clock
        self.layout = layout if layout is not None else Layout()
        self.created: Counter[str] = Counter()
        self.stubs: dict[str, list[Obj]] = {}
        self._stub_seen: Counter[str] = Counter()
        self._keep_stubs = keep_stubs
        self._ca: str | None = None

    @property
    def total(self) -> int:
        """Objects created so far."""
        return sum(self.created.values())

    def create(self, plural: str, obj: Obj) -> Obj:
        """Create ``obj``; return it as stored (with uid and resourceVersion)."""
        stored = self.state.create(plural, obj)
        self.created[plural] += 1
        if self._keep_stubs and stored["kind"] in EVENT_KINDS:
            self._sample(stored)
        return stored

    def create_pod(self, pod: Obj) -> Obj:
        """Create a pod with a generated name, drawing a new name tail on a collision."""
        for _ in range(3):
            try:
                return self.create("pods", pod)
            except SimConflict:
                if "generateName" not in pod["metadata"]:
                    raise
                pod["metadata"]["name"] = pod["metadata"]["generateName"] + suffix(self.rng)
        return self.create("pods", pod)

    def ensure(self, plural: str, obj: Obj) -> None:
        """Create ``obj`` unless an object of that name exists (dependencies shared by apps)."""
        meta = obj["metadata"]
        key = (plural, meta.get("namespace", ""), meta["name"])
        if key in self.layout.taken:
            return
        self.layout.taken.add(key)
        with contextlib.suppress(SimConflict):  # someone made it already: just what we wanted
            self.create(plural, obj)

    def update(self, plural: str, obj: Obj) -> Obj:
        """Replace ``obj`` (carrying the resourceVersion it was read at)."""
        return self.state.update(plural, obj)

    def delete(self, plural: str, obj: Obj) -> None:
        """Delete ``obj``; if finalizers hold it, release them as their controllers would."""
        meta = obj["metadata"]
        gone = self.state.delete(plural, meta.get("namespace"), meta["name"])
        if gone["metadata"].get("finalizers") and gone["metadata"].get("deletionTimestamp"):
            gone["metadata"].pop("finalizers")
            with contextlib.suppress(SimNotFound):  # someone else released it already
                self.state.update(plural, gone)

    def _sample(self, obj: Obj) -> None:
        kind = obj["kind"]
        self._stub_seen[kind] += 1
        kept = self.stubs.setdefault(kind, [])
        if len(kept) < _STUB_SAMPLE:
            kept.append(stub(obj))
        else:  # reservoir sampling: every object seen so far equally likely to be kept
            slot = self.rng.randrange(self._stub_seen[kind])
            if slot < _STUB_SAMPLE:
                kept[slot] = stub(obj)
