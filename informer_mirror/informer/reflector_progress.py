"""The Reflector's bookkeeping: resourceVersions, phase and counters, behind one small lock.

Place in the data flow: owned by one ``Reflector``; written only by its ``reflector/<name>``
thread, read by any thread (``/status``, ``/metrics``, the health monitor, ``Informer``) through
:meth:`Progress.snapshot`. The lock guards a handful of fields and is never held across I/O or a
store call.

It owns the RV rules of client-go ``reflector.go`` that are pure bookkeeping:

* ``relistResourceVersion`` (L1116-1132): "" once the last RV is known to be unavailable
  (after Expired/TooLarge), "0" before the first sync, the last synced RV otherwise;
* ``rewatchResourceVersion`` for WatchList: "" first and after Expired/TooLarge;
* a watch started at "" or "0" replays the state as synthetic ADDED events in no RV order, so
  their RVs are not recorded until the first other event (L585-603, L621-637).
"""

from __future__ import annotations

import threading
from collections import Counter

from informer_mirror.informer.reflector_types import Phase, ReflectorState, RestartReason


class Progress:
    """Thread-safe record of what a reflector has synced and done."""

    def __init__(self, name: str, resource_version: str | None) -> None:
        """``resource_version``: ``None`` when fresh; a persisted RV; ``""`` for unknown state."""
        self.name = name
        self._lock = threading.Lock()
        self._last_sync_rv = resource_version or ""
        self._rv_unavailable = resource_version == ""
        self._phase = Phase.STARTING
        self._synced = False
        self._last_error: str | None = None
        self._last_event_at: float | None = None
        self._counts: Counter[str] = Counter()
        self._restarts: Counter[str] = Counter()
        self._events_at_open = 0
        self._skip_added_rvs = False

    # -- resourceVersions ----------------------------------------------------------------------

    @property
    def last_sync_rv(self) -> str:
        """The RV the next watch starts from."""
        with self._lock:
            return self._last_sync_rv

    def relist_rv(self) -> str:
        """client-go ``relistResourceVersion``."""
        with self._lock:
            if self._rv_unavailable:
                return ""
            return self._last_sync_rv or "0"

    def rewatch_rv(self) -> str:
        """client-go ``rewatchResourceVersion`` (the RV of a WatchList request)."""
        with self._lock:
            return "" if self._rv_unavailable else self._last_sync_rv

    def mark_rv_unavailable(self) -> None:
        """The last RV expired or is unknown to the server: the next list is at ""."""
        with self._lock:
            self._rv_unavailable = True

    def listed(self, resource_version: str) -> None:
        """A complete list (or WatchList) was applied at ``resource_version``."""
        with self._lock:
            self._rv_unavailable = False
            self._last_sync_rv = resource_version
            self._synced = True
            self._last_error = None
            self._counts["lists"] += 1

    def watch_opened(self, resource_version: str) -> None:
        """A watch request from ``resource_version`` is about to go out."""
        with self._lock:
            self._counts["watch_requests"] += 1
            self._events_at_open = self._counts["events"]
            self._skip_added_rvs = resource_version in ("", "0")

    def event_applied(
        self, event_type: str, resource_version: str, now: float, *, record: bool
    ) -> None:
        """Count an event and, unless it is a synthetic ADDED (or ``record`` is False, as during
        a WatchList's initial events), make its RV the last synced one."""
        with self._lock:
            self._counts["events"] += 1
            self._last_event_at = now
            if event_type == "ADDED" and self._skip_added_rvs:
                return
            self._skip_added_rvs = False
            if record:
                self._last_sync_rv = resource_version

    def events_since_open(self) -> int:
        """Events applied since the current watch was opened."""
        with self._lock:
            return self._counts["events"] - self._events_at_open

    # -- phase, errors, counters ------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        """True once a complete list has been applied."""
        with self._lock:
            return self._synced

    def set_phase(self, phase: Phase) -> None:
        """Record what the reflector is doing now."""
        with self._lock:
            self._phase = phase

    def failed(self, text: str) -> None:
        """Record the latest failure's ``Type: message``."""
        with self._lock:
            self._last_error = text

    def count(self, name: str) -> None:
        """Bump one counter: list_requests, malformed, dropped."""
        with self._lock:
            self._counts[name] += 1

    def restart(self, reason: RestartReason) -> None:
        """Count a watch ending, by reason."""
        with self._lock:
            self._restarts[reason.value] += 1

    def snapshot(self, *, failures: int, circuit: str) -> ReflectorState:
        """A frozen copy for other threads (circuit fields come from the breaker)."""
        with self._lock:
            return ReflectorState(
                name=self.name,
                phase=self._phase,
                resource_version=self._last_sync_rv,
                synced=self._synced,
                last_error=self._last_error,
                failures=failures,
                circuit=circuit,
                last_event_at=self._last_event_at,
                lists=self._counts["lists"],
                relists=max(0, self._counts["lists"] - 1),
                list_requests=self._counts["list_requests"],
                watch_requests=self._counts["watch_requests"],
                events=self._counts["events"],
                malformed_events=self._counts["malformed"],
                dropped_events=self._counts["dropped"],
                watch_restarts=dict(self._restarts),
            )
