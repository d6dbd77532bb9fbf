"""The churn generator: keeps the simulated cluster changing the way a busy real one does.

Place in the data flow: writes to ``ClusterState`` (whose watchers then stream the changes to
every informer under test), at a steady rate, from its own thread ``sim-churn`` (or from the
caller's thread, one ``step()`` at a time, in tests). It owns that thread, its pacing, and the
mix of operations (``churn_ops``): creates (~30%: Events, pods as Deployments scale up, Jobs as
CronJobs fire, new apps, ConfigMaps, Secrets), updates (~55%: pod phase changes, restarts and
readiness flips, Event counts, node heartbeats and condition flips, ConfigMap edits, rollouts,
Jobs finishing, EndpointSlices following their pods) and deletes (~15%: Events expiring, pods
replaced, Deployments scaling down or removed whole, finished Jobs cleaned up). Owner chains stay
consistent: no Pod ever names an owner that no longer exists.

A step that loses a race with another writer (SimConflict, SimNotFound) is counted in ``races``
and skipped, not raised: churn runs next to tests and fault injection that change the same
objects.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

from informer_mirror.kinds import BUILTIN_KINDS
from informer_mirror.sim.apierrors import qualified
from informer_mirror.sim.churn_index import IndexedBuilder
from informer_mirror.sim.churn_ops import BUILTIN_OPERATIONS, ChurnOps, Operation
from informer_mirror.sim.objects_builder import Layout
from informer_mirror.sim.state import ClusterState, SimConflict, SimNotFound

log = logging.getLogger(__name__)

MAX_LAG = 0.1
"""Seconds the schedule may fall behind. A late step runs at once, so time spent in steps does
not lower the rate; a longer stall (a pause, a slow burst of writes) is forgiven beyond this,
so it is followed by at most ``MAX_LAG * rate`` back-to-back steps, not a burst."""

_FAILURE_BACKOFF = 1.0
"""Seconds to pause after a step failed unexpectedly, so a persistent fault does not spin."""

_ATTEMPTS = 8
"""Operations tried per step before settling for idling (each may find nothing to act on)."""


def next_due(previous_due: float, now: float, interval: float) -> float:
    """When the step after the one due at ``previous_due`` is due, given it is ``now``."""
    return max(previous_due + interval, now - MAX_LAG)


class ChurnGenerator:
    """Performs random cluster changes on ``state`` at ``rate`` operations per second.

    ``kinds`` restricts churn to operations that write only those resources (plural names, e.g.
    ``["pods", "events"]`` or ``deployments.apps``; custom resources as ``plural.group``); None
    means every kind the state serves (custom kinds registered by then included). ``clock``
    paces (monotonic seconds); ``wall_clock`` stamps times into objects.
    """

    def __init__(
        self,
        state: ClusterState,
        *,
        rate: float,
        rng: random.Random,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
        kinds: Sequence[str] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"churn rate must be > 0 operations per second (got {rate})")
        self._state = state
        self._rate = rate
        self._rng = rng
        self._stop = stop
        self._clock = clock
        self._wall_clock = wall_clock
        self._operations = self._select(kinds)
        self._weights = [op.weight for op in self._operations]
        self._ops: ChurnOps | None = None
        self._thread: threading.Thread | None = None
        self.steps = 0
        """Calls of ``step`` so far."""
        self.operations = 0
        """Operations performed (steps that changed something)."""
        self.performed: Counter[str] = Counter()
        """Operations performed, by operation name (see ``operation_names``)."""
        self.races = 0
        """Steps abandoned because another writer changed or removed an object first."""
        self.failures = 0
        """Steps that raised an unexpected error (logged; the thread carries on)."""

    def _select(self, kinds: Sequence[str] | None) -> list[Operation]:
        builtin = {k.plural for k in BUILTIN_KINDS}
        custom = {qualified(k): k for k in self._state.kinds() if k not in BUILTIN_KINDS}
        aliases = {qualified(k): k.plural for k in BUILTIN_KINDS}  # deployments.apps too
        wanted = set(builtin | set(custom)) if kinds is None else {aliases.get(k, k) for k in kinds}
        unknown = wanted - builtin - set(custom)
        if unknown:
            raise ValueError(f"churn kinds not served by the simulated cluster: {sorted(unknown)}")
        ops = [op for op in BUILTIN_OPERATIONS if op.writes <= wanted]
        for resource, kind in sorted(custom.items()):
            if resource in wanted:
                ops += ChurnOps.custom_ops(kind, resource)
        if not ops:
            raise ValueError(f"no churn operation writes only {sorted(wanted)}")
        return ops

    @property
    def operation_names(self) -> list[str]:
        """Names of the operations this generator may perform."""
        return [op.name for op in self._operations]

    def category_of(self, name: str) -> str:
        """``create``, ``update`` or ``delete``: the category of operation ``name``."""
        return next(op.category for op in self._operations if op.name == name)

    def _churn_ops(self) -> ChurnOps:
        if self._ops is None:
            # Read the cluster's layout (nodes, service IPs, names) once, on first use.
            builder = IndexedBuilder(
                self._state,
                self._rng,
                clock=self._wall_clock,
                layout=Layout.from_state(self._state),
            )
            self._ops = ChurnOps(builder)
        return self._ops

    def step(self) -> str:
        """Perform one random operation; return a short description of what changed."""
        ops = self._churn_ops()
        self.steps += 1
        for _ in range(_ATTEMPTS):
            op = self._rng.choices(self._operations, weights=self._weights)[0]
            try:
                description = op.run(ops)
            except (SimConflict, SimNotFound) as e:
                self.races += 1
                return f"{op.name}: skipped, lost a race ({e.reason}: {e.message})"
            if description is not None:
                self.operations += 1
                self.performed[op.name] += 1
                return description
        return "idle: found nothing to change"

    def start(self) -> None:
        """Run ``rate`` steps per second on thread ``sim-churn`` until the stop event is set."""
        if self._thread is not None:
            raise RuntimeError("the churn generator is already started")
        self._thread = threading.Thread(target=self._run, name="sim-churn", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (after the stop event is set)."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """True while the churn thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        interval = 1.0 / self._rate
        due = self._clock()
        log.info("churn started: %.1f operations per second", self._rate)
        while not self._stop.is_set():
            delay = due - self._clock()
            if delay > 0:
                if self._stop.wait(delay):
                    break
                continue
            try:
                description = self.step()
                log.debug("churn: %s", description)
            except Exception:  # the thread's top-level loop: log, count, back off, carry on
                self.failures += 1
                log.exception("churn step failed (operation %d); continuing", self.operations)
                if self._stop.wait(_FAILURE_BACKOFF):
                    break
                due = self._clock()
            due = next_due(due, self._clock(), interval)
        log.info("churn stopped after %d operations", self.operations)
