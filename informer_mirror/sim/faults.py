"""Fault injection and the request log of the simulated API server.

Place in the data flow: one :class:`FaultInjector` per ``SimServer``. Tests (their own thread) and
the ``/_sim/`` control endpoint (``sim/control.py``, request threads) switch faults on and off.
Every API request thread logs its request on arrival (:meth:`FaultInjector.request_arrived`),
asks whether to delay, fail, forbid or 404 it (:meth:`FaultInjector.delay`,
:meth:`FaultInjector.check`), and fills in the status as the answer goes out
(:meth:`FaultInjector.request_answered`), so tests can count requests, held ones included, to
prove a client's backoff. Watch faults act on the open watch streams the server tracks; restart
calls back into the server. One lock guards the fault settings and the log; never held across
I/O.

What each fault looks like to a client (all bodies are real ``Status`` objects):

- :meth:`~FaultInjector.fail_next`: the next N matching requests answer 500 ``InternalError``, 429
  ``TooManyRequests`` or 503 ``ServiceUnavailable`` (429/503 with ``Retry-After``), optionally only
  requests whose path contains a substring or that address one resource;
- :meth:`~FaultInjector.forbid`: 403 ``Forbidden`` for one verb on one resource, with the
  apiserver's RBAC message (``pods is forbidden: User "..." cannot list resource "pods" in API
  group "" at the cluster scope``);
- :meth:`~FaultInjector.unserve`: the resource disappears from discovery and answers 404 ``the
  server could not find the requested resource``;
- :meth:`~FaultInjector.set_delay`: every API response is delayed by D seconds;
- :meth:`~FaultInjector.drop_watches` (socket closed mid-stream),
  :meth:`~FaultInjector.close_watches` (clean end, terminating chunk),
  :meth:`~FaultInjector.stall_watches` (no bytes at all until unstalled or dropped),
  :meth:`~FaultInjector.expire_history` (410 for old RVs and continue tokens),
  :meth:`~FaultInjector.restart` (stop listening, drop every connection, listen again, same state).

Control-endpoint requests are neither faulted nor logged.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from informer_mirror.kinds import KindInfo
from informer_mirror.sim.apierrors import SimError, SimNotFound, details_for, qualified
from informer_mirror.sim.state import ClusterState
from informer_mirror.sim.watchers import Watcher

DEFAULT_USER = "system:serviceaccount:informer-mirror:informer-mirror"
"""The user named in injected 403 messages (the daemon's service account)."""

LOG_SIZE = 100_000
"""The request log keeps this many most recent requests."""

VERBS = ("get", "list", "watch", "create", "update", "delete", "patch", "deletecollection")

_REASONS = {
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected fault"),
    502: ("InternalError", "Internal error occurred: injected fault (bad gateway)"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "The request was not completed in time: injected fault"),
}


class WatchHost(Protocol):
    """What the injector needs from the server: its open watches and a restart."""

    def watchers(self) -> list[Watcher]:
        """Every watch stream open now."""
        ...

    def restart(self, downtime: float) -> None:
        """Stop listening, drop all connections, wait ``downtime`` s, listen on the same port."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRecord:
    """One API request: logged when it arrives, its status filled in when the answer goes out."""

    method: str
    path: str
    query: str
    """The raw query string (``limit=500&resourceVersion=0``)."""
    status: int
    """HTTP status of the answer; 0 while none has been sent (a delayed or stalled request) or
    when the client left before any answer."""
    time: float
    """When the request arrived, on the injector's clock (monotonic seconds by default)."""

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object (for ``/_sim/requests``)."""
        return asdict(self)


@dataclass(slots=True)
class _FailRule:
    remaining: int
    status: int
    retry_after: int | None
    path_contains: str | None
    resource: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestInfo:
    """What the server knows about a request when it asks :meth:`FaultInjector.check`."""

    method: str
    path: str
    verb: str
    """Kubernetes verb: get, list, watch, create, update, delete, ... (``get`` for discovery)."""
    kind: KindInfo | None = None
    """The resource addressed, None for discovery and other non-resource paths."""
    namespace: str | None = None
    name: str | None = None


def _kind_key(kind: KindInfo) -> str:
    return qualified(kind)


class FaultInjector:
    """Switchable faults plus the request log. Thread-safe."""

    def __init__(
        self,
        state: ClusterState,
        *,
        clock: Callable[[], float] = time.monotonic,
        user: str = DEFAULT_USER,
    ) -> None:
        self._state = state
        self._clock = clock
        self.user = user
        self._lock = threading.Lock()
        self._host: WatchHost | None = None
        self._rules: list[_FailRule] = []
        self._delay = 0.0
        self._forbidden: set[tuple[str, str]] = set()
        self._unserved: set[str] = set()
        self._stall_new = False
        self._log: deque[RequestRecord] = deque(maxlen=LOG_SIZE)
        self._logged = 0  # requests ever logged: the next handle

    def _resource_key(self, resource: str, group: str | None) -> str:
        """``plural`` or ``plural.group`` naming ``resource``, resolved against the served kinds
        (``deployments`` means ``deployments.apps``); unknown ones are taken as written."""
        try:
            return qualified(self._state.kind(resource, group))
        except KeyError:
            return f"{resource}.{group}" if group else resource

    def attach(self, host: WatchHost) -> None:
        """Connect to the server whose watches and restart the faults act on (called by it)."""
        self._host = host

    def _watchers(self) -> list[Watcher]:
        return self._host.watchers() if self._host is not None else []

    # -- watch faults ----------------------------------------------------------------------------

    def drop_watches(self) -> int:
        """Close every open watch connection abruptly (no terminating chunk). Returns the count."""
        watchers = self._watchers()
        for w in watchers:
            w.drop()
        return len(watchers)

    def close_watches(self) -> int:
        """End every open watch cleanly, as a server-side timeout does. Returns the count."""
        watchers = self._watchers()
        for w in watchers:
            w.close()
        return len(watchers)

    def stall_watches(self, *, new_watches: bool = False) -> int:
        """Stop sending any byte on every open watch (events stay queued) until
        :meth:`unstall_watches`; with ``new_watches`` also stall watches opened from now on
        (they do not even get response headers). Returns the number stalled now."""
        with self._lock:
            self._stall_new = new_watches
        watchers = self._watchers()
        for w in watchers:
            w.set_stalled(True)
        return len(watchers)

    def unstall_watches(self) -> int:
        """Resume every stalled watch (queued events are delivered). Returns the count."""
        with self._lock:
            self._stall_new = False
        watchers = self._watchers()
        for w in watchers:
            w.set_stalled(False)
        return len(watchers)

    @property
    def stall_new_watches(self) -> bool:
        """True while new watches start stalled."""
        with self._lock:
            return self._stall_new

    def expire_history(self, resource: str | None = None) -> None:
        """Compact history (one resource, or all): every RV handed out so far is now too old, so
        the next watch from it gets a 410 ERROR event and old continue tokens a 410 Status."""
        self._state.expire_history(resource)

    def restart(self, *, downtime: float = 0.0) -> None:
        """Stop listening, drop every connection, wait ``downtime`` s, listen again on the same
        port with the same state. Blocks until the server listens again."""
        if self._host is None:
            raise RuntimeError("the fault injector is not attached to a server")
        self._host.restart(downtime)

    # -- request faults --------------------------------------------------------------------------

    def fail_next(
        self,
        count: int,
        *,
        status: int = 500,
        retry_after: int | None = None,
        path_contains: str | None = None,
        resource: str | None = None,
        group: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching API requests with ``status`` (500, 429, 503, ...).

        429 and 503 carry ``Retry-After`` (default 1 s). ``path_contains`` and ``resource`` (a
        plural, or ``plural.group``) narrow which requests count.
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error code, 400 to 599 (got {status})")
        if retry_after is None and status in (429, 503):
            retry_after = 1
        key = self._resource_key(resource, group) if resource else None
        with self._lock:
            self._rules.append(
                _FailRule(
                    remaining=count,
                    status=status,
                    retry_after=retry_after,
                    path_contains=path_contains,
                    resource=key,
                )
            )

    def set_delay(self, seconds: float) -> None:
        """Delay every API response by ``seconds`` (0 turns the delay off)."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        with self._lock:
            self._delay = seconds

    def forbid(self, verb: str, resource: str, *, group: str | None = None) -> None:
        """Answer ``verb`` on ``resource`` with 403 Forbidden until :meth:`allow`."""
        if verb not in VERBS:
            raise ValueError(f"unknown verb {verb!r}; one of {', '.join(VERBS)}")
        key = self._resource_key(resource, group)
        with self._lock:
            self._forbidden.add((verb, key))

    def allow(self, verb: str, resource: str, *, group: str | None = None) -> None:
        """Undo :meth:`forbid`."""
        key = self._resource_key(resource, group)
        with self._lock:
            self._forbidden.discard((verb, key))

    def unserve(self, resource: str, *, group: str | None = None) -> None:
        """Stop serving ``resource`` (gone from discovery, 404 everywhere) until :meth:`serve`."""
        key = self._resource_key(resource, group)
        with self._lock:
            self._unserved.add(key)

    def serve(self, resource: str, *, group: str | None = None) -> None:
        """Undo :meth:`unserve`."""
        key = self._resource_key(resource, group)
        with self._lock:
            self._unserved.discard(key)

    def reset(self) -> None:
        """Clear every request fault and resume stalled watches (the request log is kept)."""
        with self._lock:
            self._rules.clear()
            self._delay = 0.0
            self._forbidden.clear()
            self._unserved.clear()
        self.unstall_watches()

    def describe(self) -> dict[str, Any]:
        """The faults in force, as JSON (for ``/_sim/faults``)."""
        with self._lock:
            return {
                "fail": [asdict(r) for r in self._rules],
                "delay": self._delay,
                "forbidden": sorted(f"{v} {r}" for v, r in self._forbidden),
                "unserved": sorted(self._unserved),
                "stall_new_watches": self._stall_new,
            }

    # -- asked by the server for every API request -----------------------------------------------

    def delay(self) -> float:
        """Seconds to hold every API response."""
        with self._lock:
            return self._delay

    def is_served(self, kind: KindInfo) -> bool:
        """False while ``kind`` is unserved."""
        with self._lock:
            return _kind_key(kind) not in self._unserved

    def check(self, info: RequestInfo) -> SimError | None:
        """The injected error for this request, if any (consumes one count of a fail rule)."""
        with self._lock:
            for rule in self._rules:
                if rule.path_contains is not None and rule.path_contains not in info.path:
                    continue
                if rule.resource is not None and (
                    info.kind is None or _kind_key(info.kind) != rule.resource
                ):
                    continue
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
                reason, message = _REASONS.get(rule.status, ("InternalError", "injected fault"))
                return SimError(
                    rule.status,
                    reason,
                    message,
                    details={"causes": [{"message": "injected fault"}]}
                    if rule.status >= 500 and rule.retry_after is None
                    else None,
                    retry_after=rule.retry_after,
                )
            if info.kind is None:
                return None
            key = _kind_key(info.kind)
            if (info.verb, key) in self._forbidden:
                return self._forbidden_error(info, info.kind)
            if key in self._unserved:
                return SimNotFound("the server could not find the requested resource", details={})
        return None

    def _forbidden_error(self, info: RequestInfo, kind: KindInfo) -> SimError:
        subject = f'{qualified(kind)} "{info.name}"' if info.name else qualified(kind)
        scope = f'in the namespace "{info.namespace}"' if info.namespace else "at the cluster scope"
        return SimError(
            403,
            "Forbidden",
            f'{subject} is forbidden: User "{self.user}" cannot {info.verb} resource '
            f'"{kind.plural}" in API group "{kind.group}" {scope}',
            details=details_for(kind, info.name),
        )

    # -- request log -----------------------------------------------------------------------------

    def request_arrived(self, *, method: str, path: str, query: str) -> int:
        """Log a request as it arrives (status 0 until :meth:`request_answered`); returns its
        handle. Logging on arrival lets tests count requests that are still being held."""
        rec = RequestRecord(method=method, path=path, query=query, status=0, time=self._clock())
        with self._lock:
            self._log.append(rec)
            self._logged += 1
            return self._logged - 1

    def request_answered(self, handle: int, status: int) -> None:
        """Fill in the status of a logged request (a no-op once it has left the log)."""
        with self._lock:
            first = self._logged - len(self._log)  # handle of the oldest request still logged
            if handle >= first:
                self._log[handle - first] = replace(self._log[handle - first], status=status)

    def requests(self, path_contains: str | None = None) -> list[RequestRecord]:
        """The request log, oldest first (optionally only paths containing a substring)."""
        with self._lock:
            log = list(self._log)
        return [r for r in log if path_contains is None or path_contains in r.path]

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._log.clear()
