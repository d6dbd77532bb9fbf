"""What the churn generator knows about the cluster: which objects exist, to pick one at random.

Place in the data flow: inside ``churn`` (the ``sim-churn`` thread, or whoever calls
``ChurnGenerator.step``), between its operations and ``ClusterState``. It owns one index of keys
per resource, built from ``ClusterState.list_objects`` on first use and kept current by the
writes churn makes itself (``IndexedBuilder``); objects removed by someone else are dropped when
a read finds them gone, so the index heals without re-listing.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from informer_mirror.sim.objects_apps import AppBuilder
from informer_mirror.sim.objects_builder import Layout
from informer_mirror.sim.objects_meta import Obj
from informer_mirror.sim.state import ClusterState, SimNotFound

Key = tuple[str, str]
"""(namespace or "", name)."""


class KeyIndex:
    """A set of keys with O(1) add, discard and uniform random choice; deterministic order."""

    def __init__(self) -> None:
        self._keys: list[Key] = []
        self._pos: dict[Key, int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._pos

    def add(self, key: Key) -> None:
        """Add ``key`` (no-op if present)."""
        if key not in self._pos:
            self._pos[key] = len(self._keys)
            self._keys.append(key)

    def discard(self, key: Key) -> None:
        """Remove ``key`` if present (the last key takes its slot)."""
        pos = self._pos.pop(key, None)
        if pos is None:
            return
        last = self._keys.pop()
        if pos < len(self._keys):
            self._keys[pos] = last
            self._pos[last] = pos

    def choice(self, rng: random.Random) -> Key | None:
        """A uniformly random key, or None when empty."""
        return self._keys[rng.randrange(len(self._keys))] if self._keys else None


def key_of(obj: Obj) -> Key:
    """The index key of a stored object."""
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with ``controller: true``, if any."""
    refs = obj["metadata"].get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), None)


class IndexedBuilder(AppBuilder):
    """An ``AppBuilder`` that keeps, per resource, an index of keys and of owner -> dependents,
    current with its own writes (so finding a ReplicaSet's pods reads just those pods, not the
    whole namespace)."""

    def __init__(
        self,
        state: ClusterState,
        rng: random.Random,
        *,
        clock: Callable[[], float],
        layout: Layout,
    ) -> None:
        super().__init__(state, rng, clock=clock, layout=layout)
        self._indexes: dict[str, KeyIndex] = {}
        # plural -> controller uid -> keys of its dependents (dicts: ordered, unlike sets)
        self._children: dict[str, dict[str, dict[Key, None]]] = {}

    def index(self, plural: str) -> KeyIndex:
        """The keys of ``plural`` (listed from the state on first use)."""
        found = self._indexes.get(plural)
        if found is None:
            found = KeyIndex()
            self._children[plural] = {}
            self._indexes[plural] = found
            for obj in self.state.list_objects(plural):
                self._indexed(plural, obj)
        return found

    def _indexed(self, plural: str, obj: Obj) -> None:
        key = key_of(obj)
        self._indexes[plural].add(key)
        ref = controller_of(obj)
        if ref is not None:
            self._children[plural].setdefault(ref["uid"], {})[key] = None

    def _unindexed(self, plural: str, obj: Obj) -> None:
        key = key_of(obj)
        self._indexes[plural].discard(key)
        ref = controller_of(obj)
        if ref is not None:
            siblings = self._children[plural].get(ref["uid"], {})
            siblings.pop(key, None)
            if not siblings:
                self._children[plural].pop(ref["uid"], None)

    def create(self, plural: str, obj: Obj) -> Obj:
        stored = super().create(plural, obj)
        if plural in self._indexes:
            self._indexed(plural, stored)
        return stored

    def delete(self, plural: str, obj: Obj) -> None:
        try:
            super().delete(plural, obj)
        finally:
            if plural in self._indexes:
                self._unindexed(plural, obj)

    def owned(self, plural: str, owner: Obj) -> list[Obj]:
        """The current objects of ``plural`` that ``owner`` (as stored) controls.

        Only dependents listed at start or created by this builder are known: an object another
        writer creates for ``owner`` is not (churn is the only writer of owned objects).
        """
        self.index(plural)
        uid = owner["metadata"]["uid"]
        keys = self._children[plural].get(uid, {})
        found = []
        for key in list(keys):
            obj = self.fetch(plural, key[0] or None, key[1])
            ref = controller_of(obj) if obj is not None else None
            if obj is None or ref is None or ref["uid"] != uid:
                keys.pop(key, None)  # gone, or replaced by an object with another owner
                continue
            found.append(obj)
        return found

    def pick(
        self, plural: str, accept: Callable[[Obj], bool] | None = None, *, tries: int = 4
    ) -> Obj | None:
        """A random current object of ``plural`` that ``accept`` likes, read fresh from the
        state (so an update carries its current resourceVersion); None if none was found."""
        index = self.index(plural)
        for _ in range(tries):
            key = index.choice(self.rng)
            if key is None:
                return None
            obj = self.fetch(plural, key[0] or None, key[1])
            if obj is not None and (accept is None or accept(obj)):
                return obj
        return None

    def fetch(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        """The current object, or None if it does not exist (dropping it from the index)."""
        try:
            return self.state.get(plural, namespace, name)
        except SimNotFound:
            if plural in self._indexes:
                self._indexes[plural].discard((namespace or "", name))
            return None
