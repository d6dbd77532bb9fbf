"""The Reflector's vocabulary: options, phases, state snapshot, the store it feeds, event checks.

Place in the data flow: shared by ``reflector.py`` (which writes the state) and by readers on other
threads (``/status``, ``/metrics``, the health monitor), which only ever see the frozen
:class:`ReflectorState` snapshots. Pure data and pure functions; no thread owns them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from informer_mirror.errors import ConfigError
from informer_mirror.kube.listwatch import WATCH_EVENT_TYPES, WatchEvent

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
"""Annotation on the BOOKMARK that ends a WatchList's initial events (reflector.go L1061-1063)."""

DEFAULT_PAGE_SIZE = 500
"""client-go ``tools/pager/pager.go`` L31: ``defaultPageSize``."""


class Phase(enum.StrEnum):
    """What a reflector is doing right now."""

    STARTING = "starting"
    LISTING = "listing"
    WATCHING = "watching"
    BACKING_OFF = "backing-off"
    CIRCUIT_OPEN = "circuit-open"
    STOPPED = "stopped"


class RestartReason(enum.StrEnum):
    """Why a watch ended and a new one (or a relist) followed; the label of a bounded metric."""

    CLOSED = "closed"
    """The server ended the stream cleanly (its ``timeoutSeconds``, EOF, a reset mid-stream)."""
    READ_TIMEOUT = "read-timeout"
    """No byte within the read timeout: a stalled or dead connection (pitfall 7)."""
    EXPIRED = "expired"
    """410 Expired/Gone: relist at the last RV."""
    TOO_MANY_REQUESTS = "too-many-requests"
    """429: back off, then re-watch from the same RV."""
    CONNECTION = "connection"
    """The watch could not be opened (refused/reset): back off, re-watch from the same RV."""
    VERY_SHORT = "very-short"
    """Ended within 1 s with no event: counted as an error, relist after a backoff."""
    ERROR = "error"
    """Any other error: relist after a backoff."""


class ReflectorStore(Protocol):
    """What a Reflector writes into (client-go's ``Store`` as the reflector uses it).

    Called only from the reflector's thread; return values are ignored (``Store`` itself fits).
    An exception from ``add``/``update``/``delete`` drops
    that one event (client-go ``reflector.go`` L1039-1057); one from ``replace`` fails the list.
    """

    def add(self, obj: dict[str, Any]) -> object:
        """A watch ADDED event."""

    def update(self, obj: dict[str, Any]) -> object:
        """A watch MODIFIED event."""

    def delete(self, obj: dict[str, Any]) -> object:
        """A watch DELETED event (``obj`` is the last state)."""

    def replace(self, items: Iterable[dict[str, Any]], resource_version: str) -> object:
        """A complete list: swap the contents atomically. ``items`` may be lazy (pages fetched as
        it is consumed) and may raise: then nothing may change."""

    def bookmark(self, resource_version: str) -> object:
        """A BOOKMARK: progress without a change."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReflectorOptions:
    """client-go's reflector numbers, overridable for tests. Durations are float seconds."""

    page_size: int = DEFAULT_PAGE_SIZE
    """``limit`` of a paginated list (client-go pager default 500)."""
    force_page_size: bool = False
    """Always paginate with ``page_size`` (client-go ``WatchListPageSize``); otherwise a list at a
    specific RV is unpaginated so the watch cache can serve it (reflector.go L696-717)."""
    watch_timeout_min: float = 300.0
    """Lower bound of the random server-side watch ``timeoutSeconds`` (reflector.go L588)."""
    watch_timeout_max: float = 600.0
    """Upper bound (exclusive) of the random ``timeoutSeconds``."""
    very_short_watch: float = 1.0
    """A watch ending sooner than this with no event counts as an error (reflector.go L1089)."""
    use_watch_list: bool = False
    """Try the streaming list (``sendInitialEvents=true``) first; fall back to a list on error."""

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ConfigError("reflector.page_size: must be >= 1")
        if not 1 <= self.watch_timeout_min <= self.watch_timeout_max:
            raise ConfigError("reflector.watch_timeout_min: need 1 <= min <= watch_timeout_max")
        if self.very_short_watch < 0:
            raise ConfigError("reflector.very_short_watch: must be >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReflectorState:
    """A consistent copy of a reflector's progress, safe to read from any thread."""

    name: str
    """The resource name (thread ``reflector/<name>``)."""
    phase: Phase
    """What it is doing now."""
    resource_version: str
    """The last RV synced (list, event or bookmark); ``""`` before the first list."""
    synced: bool
    """True once a complete list (or watch-list) has been applied to the store."""
    last_error: str | None
    """``Type: message`` of the latest failure; ``None`` once something succeeded after it."""
    failures: int
    """Consecutive failed attempts (what the circuit breaker counts)."""
    circuit: str
    """Circuit breaker state: ``closed``, ``open`` or ``half_open``."""
    last_event_at: float | None
    """Clock time (monotonic) of the latest watch event or bookmark."""
    lists: int
    """Successful complete lists (including watch-lists)."""
    relists: int
    """Successful lists after the first one."""
    list_requests: int
    """List HTTP requests made (pages, fallbacks and retries included)."""
    watch_requests: int
    """Watch HTTP requests made."""
    events: int
    """Watch events applied (bookmarks included)."""
    malformed_events: int
    """Watch lines skipped as malformed (not JSON, no metadata/uid, unknown type, wrong kind)."""
    dropped_events: int
    """Events the store refused (e.g. a transform error); the RV still advanced past them."""
    watch_restarts: Mapping[str, int] = field(default_factory=dict)
    """How many watches ended, by :class:`RestartReason` value."""


def event_problem(event: WatchEvent, kind: str) -> str | None:
    """Why a watch event must be skipped (reflector.go L1013-1030), or ``None`` if it is fine:
    an unknown type, no metadata or resourceVersion, another kind (e.g. a Table), and for
    anything but a BOOKMARK no name or uid."""
    if event.type not in WATCH_EVENT_TYPES:
        return f"unknown event type {event.type!r}"
    obj = event.object
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return "object without metadata"
    rv = meta.get("resourceVersion")
    if not isinstance(rv, str) or not rv:
        return "object without metadata.resourceVersion"
    got = obj.get("kind")
    if got is not None and got != kind:
        return f"object of kind {got!r}, expected {kind!r}"
    if event.type == "BOOKMARK":
        return None
    if not isinstance(meta.get("name"), str) or not meta.get("name") or not meta.get("uid"):
        return "object without metadata.name or metadata.uid"
    return None


def ends_initial_events(metadata: Mapping[str, Any]) -> bool:
    """True for the BOOKMARK that closes a WatchList's initial events."""
    annotations = metadata.get("annotations")
    return isinstance(annotations, Mapping) and annotations.get(INITIAL_EVENTS_END) == "true"
