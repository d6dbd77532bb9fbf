"""Noticing what the API server refuses, and cutting a stalled watch: ObservedListerWatcher.

Place in the data flow: between a resource's ``KubeListerWatcher`` (kube/) and its Reflector. The
composition root wraps every ListerWatcher it builds (``daemon.py``, via ``components.py``); the
wrapper's ``list_page`` and ``watch`` run on the reflector's thread, :meth:`access_problem` on API
and main threads (is the resource *degraded*?), :meth:`interrupt_watch` on the health monitor's.
It owns the last access error per verb and a reference to the open watch stream, behind one lock
never held across I/O.

Degraded means the API server answered 403 (the credentials may not list or watch it: the
message names the RBAC rule to add, see ``kube.client``) or 404 (the resource type is not served,
e.g. a CRD not installed). The reflector keeps retrying with backoff regardless; the daemon only
reports it and leaves the resource out of readiness.
"""

from __future__ import annotations

import logging
import threading

from informer_mirror.errors import KubeApiError, KubeForbidden, KubeNotFound
from informer_mirror.kube.listwatch import ApiResource, ListerWatcher, ListPage, WatchStream

log = logging.getLogger(__name__)

_ACCESS_ERRORS = (KubeForbidden, KubeNotFound)


class ObservedListerWatcher:
    """A ListerWatcher that remembers access errors per verb and can cut the open watch.

    Called on its reflector's thread like the ListerWatcher it wraps; :meth:`access_problem` and
    :meth:`interrupt_watch` from any thread. A verb's problem is cleared by that verb's next
    success, so a resource that may be listed but not watched stays degraded instead of flapping.
    """

    def __init__(self, inner: ListerWatcher, *, name: str) -> None:
        self._inner = inner
        self._name = name
        self._lock = threading.Lock()
        self._problems: dict[str, KubeApiError] = {}
        self._stream: WatchStream | None = None

    @property
    def resource(self) -> ApiResource:
        """The collection listed and watched."""
        return self._inner.resource

    def list_page(
        self, *, resource_version: str | None, limit: int, continue_token: str | None
    ) -> ListPage:
        """The wrapped ``list_page``, recording a 403/404 or clearing the list problem."""
        try:
            page = self._inner.list_page(
                resource_version=resource_version, limit=limit, continue_token=continue_token
            )
        except _ACCESS_ERRORS as e:
            self._record("list", e)
            raise
        self._record("list", None)
        return page

    def watch(
        self,
        *,
        resource_version: str,
        timeout_seconds: int,
        send_initial_events: bool = False,
    ) -> WatchStream:
        """The wrapped ``watch``, recording a 403/404 and remembering the open stream."""
        try:
            stream = self._inner.watch(
                resource_version=resource_version,
                timeout_seconds=timeout_seconds,
                send_initial_events=send_initial_events,
            )
        except _ACCESS_ERRORS as e:
            self._record("watch", e)
            raise
        self._record("watch", None)
        with self._lock:
            self._stream = stream
        stream.on_close(lambda: self._forget(stream))
        return stream

    def close(self) -> None:
        """Stop for good (wakes a blocked read)."""
        self._inner.close()

    def access_problem(self) -> str | None:
        """Why the API refuses this collection (403 or 404), or None."""
        with self._lock:
            problems = [
                self._problems[verb] for verb in ("list", "watch") if verb in self._problems
            ]
        return str(problems[0]) if problems else None

    def interrupt_watch(self) -> bool:
        """Close the open watch stream, if any: the reflector re-watches from its last RV, as
        after a read timeout (pitfall 7). True if there was one."""
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is None:
            return False
        stream.close()
        return True

    def _forget(self, stream: WatchStream) -> None:
        with self._lock:
            if self._stream is stream:
                self._stream = None

    def _record(self, verb: str, error: KubeApiError | None) -> None:
        with self._lock:
            before = bool(self._problems)
            if error is None:
                self._problems.pop(verb, None)
            else:
                self._problems[verb] = error
            after = bool(self._problems)
        if after and not before:
            log.warning("%s: degraded, the API server refuses it: %s", self._name, error)
        elif before and not after:
            log.info("%s: the API server serves it again; no longer degraded", self._name)
