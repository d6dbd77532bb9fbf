"""ListerWatcher: list pages and watch streams of one resource type, as raw JSON dicts.

Place in the data flow: between ``KubeClient`` (HTTP) and the ``Reflector`` (informer/). One
``KubeListerWatcher`` serves one reflector; its methods run on that reflector's thread, except
:meth:`KubeListerWatcher.close`, which another thread calls to wake a reflector blocked in a read.
A continue page requested ahead (:meth:`KubeListerWatcher.prefetch_page`) is requested on a
short-lived helper thread, ``list-ahead/<resource>`` (``kube/nextpage.py``).

It owns the protocol details the reflector should not see: the URL of a (group, version, plural)
collection, query parameters, injecting ``kind``/``apiVersion`` into list items (the API server
leaves them out; kopf ``fetching.py`` L38-41), splitting a chunked watch body into JSON lines as
the bytes arrive (never a whole-body read), and turning a watch ``ERROR`` event into the same
``KubeError`` an HTTP error would have raised (410 arrives that way inside a 200 stream).

Objects are ``dict[str, Any]``, owned by the caller once yielded. Those of built-in kinds come
without ``metadata.managedFields`` (``kube/decode.py``: the decoder skips it, and every transform
would have dropped it), or with only the fields of the ``schema`` the lister-watcher was given;
custom resources are decoded whole.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import orjson
import urllib3

from informer_mirror.errors import KubeConnectionError, KubeDecodeError, KubeError
from informer_mirror.kinds import BUILTIN_KINDS, KindInfo
from informer_mirror.kube.client import (
    HTTPResponse,
    KubeClient,
    RequestTarget,
    read_all,
    shutdown_response,
    status_error,
    translate_transport_error,
)
from informer_mirror.kube.decode import decode_event, decode_list
from informer_mirror.kube.nextpage import NextPage

log = logging.getLogger(__name__)

_BUILTIN_IDS = {(k.group, k.version, k.plural): k.kind for k in BUILTIN_KINDS}

_READ_SIZE = 1 << 16
_MAX_LOGGED_LINE = 200

WATCH_EVENT_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK"})
"""Event types a reflector applies; ``ERROR`` is raised as a ``KubeError`` instead."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiResource:
    """One collection to list and watch: (group, version, plural) cluster-wide or in a namespace."""

    group: str
    """API group; ``""`` is the core group."""
    version: str
    """API version, e.g. ``v1``."""
    plural: str
    """Resource name in URLs, e.g. ``pods``."""
    kind: str
    """Object kind, injected into list items (the server omits it there)."""
    namespaced: bool
    """True when objects live in a namespace."""
    namespace: str | None = None
    """Watch only this namespace (namespaced kinds only); ``None`` means all namespaces."""

    @property
    def builtin(self) -> bool:
        """True for a kind of the built-in table (its objects decode lean, ``kube/decode.py``)."""
        return _BUILTIN_IDS.get((self.group, self.version, self.plural)) == self.kind

    @classmethod
    def from_kind(cls, info: KindInfo, namespace: str | None = None) -> ApiResource:
        """The collection of a kind from the kinds table."""
        return cls(
            group=info.group,
            version=info.version,
            plural=info.plural,
            kind=info.kind,
            namespaced=info.namespaced,
            namespace=namespace if info.namespaced else None,
        )

    @property
    def api_version(self) -> str:
        """``apiVersion`` of the objects: ``v1`` or ``apps/v1``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def path(self) -> str:
        """Collection URL path."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespace is not None and self.namespaced:
            return f"{base}/namespaces/{self.namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    @property
    def name(self) -> str:
        """Short display name: ``pods``, ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def target(self, verb: str) -> RequestTarget:
        """What a request for ``verb`` is about, for error messages."""
        return RequestTarget(
            verb=verb, resource=self.plural, group=self.group, namespace=self.namespace
        )


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a list response."""

    items: list[dict[str, Any]]
    """Objects, each with ``kind`` and ``apiVersion`` injected."""
    resource_version: str
    """``metadata.resourceVersion`` of the list (never an item's RV; pitfall 6)."""
    continue_token: str
    """``metadata.continue``; empty on the last page."""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One watch event: ``type`` is ADDED, MODIFIED, DELETED or BOOKMARK (or an unknown type)."""

    type: str
    object: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MalformedEvent:
    """A line of the watch stream that is not a JSON watch event; the caller logs and skips it."""

    reason: str
    line: bytes
    """The start of the offending line, for the log."""


class ListerWatcher(Protocol):
    """What a Reflector needs from the API (client-go's ``ListerWatcher``)."""

    @property
    def resource(self) -> ApiResource:
        """The collection listed and watched."""
        ...

    def list_page(
        self, *, resource_version: str | None, limit: int, continue_token: str | None
    ) -> ListPage:
        """One list request."""
        ...

    def watch(
        self,
        *,
        resource_version: str,
        timeout_seconds: int,
        send_initial_events: bool = False,
    ) -> WatchStream:
        """Open a watch (always with ``allowWatchBookmarks=true``)."""
        ...

    def close(self) -> None:
        """Stop for good: wake any blocked read; later requests fail at once."""
        ...


@runtime_checkable
class PagePrefetcher(Protocol):
    """A ``ListerWatcher`` that can request a continue page ahead (``KubeListerWatcher``)."""

    def prefetch_page(self, *, limit: int, continue_token: str) -> None:
        """Request now the page ``list_page(resource_version=None, limit=limit,
        continue_token=continue_token)`` will ask for next."""
        ...


class WatchStream:
    """An open watch: iterate for events; ``close()`` from any thread ends the iteration.

    Iterating raises ``KubeApiError`` for an ERROR event, ``KubeTimeoutError`` when no byte arrived
    within the read timeout and ``KubeConnectionError`` when the connection broke; it simply ends
    when the server closes the stream cleanly or when ``close()`` was called.
    """

    def __init__(
        self,
        response: HTTPResponse,
        *,
        resource: ApiResource,
        server: str,
        schema: type | None = None,
    ) -> None:
        self._response = response
        self._resource = resource
        self._lean = resource.builtin
        self._schema = schema
        self._server = server
        self._target = resource.target("watch")
        self._closed = threading.Event()
        self._on_close: list[Callable[[], None]] = []

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed.is_set()

    def close(self) -> None:
        """End the stream; safe from any thread and more than once."""
        if self._closed.is_set():
            return
        self._closed.set()
        shutdown_response(self._response)
        for callback in self._on_close:
            callback()

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the stream is closed (at once if it already is)."""
        self._on_close.append(callback)
        if self._closed.is_set():
            callback()

    def __iter__(self) -> Iterator[WatchEvent | MalformedEvent]:
        for line in self._lines():
            if not line.strip():
                continue
            yield self._decode(line)

    def _decode(self, line: bytes) -> WatchEvent | MalformedEvent:
        try:
            event = decode_event(line, lean=self._lean, schema=self._schema)
        except orjson.JSONDecodeError as e:
            return MalformedEvent(f"not JSON: {e}", line[:_MAX_LOGGED_LINE])
        if not isinstance(event, dict):
            return MalformedEvent("not a JSON object", line[:_MAX_LOGGED_LINE])
        etype = event.get("type")
        obj = event.get("object")
        if not isinstance(etype, str) or not isinstance(obj, dict):
            return MalformedEvent("no type or object", line[:_MAX_LOGGED_LINE])
        if etype == "ERROR":
            code = obj.get("code")
            status = code if isinstance(code, int) and code >= 400 else 500
            raise status_error(status, obj, None, target=self._target)
        return WatchEvent(etype, obj)

    def _lines(self) -> Iterator[bytes]:
        """Split the body on newlines as chunks arrive; a line may span several chunks."""
        pending: list[bytes] = []
        for chunk in self._chunks():
            start = 0
            while (end := chunk.find(b"\n", start)) >= 0:
                if pending:
                    pending.append(chunk[start:end])
                    yield b"".join(pending)
                    pending.clear()
                else:
                    yield chunk[start:end]
                start = end + 1
            if start < len(chunk):
                pending.append(chunk[start:])
        if pending:
            yield b"".join(pending)

    def _chunks(self) -> Iterator[bytes]:
        response = self._response
        try:
            if response.chunked and response.supports_chunked_reads():
                # read_chunked hands over each HTTP chunk as it arrives (no waiting to fill amt).
                for chunk in response.read_chunked(_READ_SIZE, decode_content=True):
                    if self._closed.is_set():
                        return
                    yield chunk
            else:
                # Not chunked (HTTP/1.0 or close-delimited): read1 returns what is available.
                while not self._closed.is_set():
                    chunk = response.read1(_READ_SIZE)
                    if not chunk:
                        return
                    yield chunk
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as e:
            if self._closed.is_set():
                return  # we shut the socket down ourselves: a requested stop, not a failure
            raise translate_transport_error(e, target=self._target, server=self._server) from e
        finally:
            if not self._closed.is_set():
                self.close()


class KubeListerWatcher:
    """``ListerWatcher`` over a ``KubeClient``: raw JSON list pages and watch streams."""

    def __init__(
        self,
        client: KubeClient,
        resource: ApiResource,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        read_timeout: float | None = None,
        schema: type | None = None,
    ) -> None:
        """``schema``: decode objects into this TypedDict only (``kube/decode.py``), e.g. what
        the resource's transformer reads; None: whole (built-in kinds without managedFields)."""
        self._client = client
        self._resource = resource
        self._schema = schema
        self._selectors: list[tuple[str, str]] = []
        if label_selector:
            self._selectors.append(("labelSelector", label_selector))
        if field_selector:
            self._selectors.append(("fieldSelector", field_selector))
        self._read_timeout = read_timeout
        self._lock = threading.Lock()
        self._open: dict[int, Callable[[], None]] = {}
        self._next_token = 0
        self._closed = False
        self._ahead: NextPage | None = None

    @property
    def resource(self) -> ApiResource:
        """The collection listed and watched."""
        return self._resource

    def list_page(
        self, *, resource_version: str | None, limit: int, continue_token: str | None
    ) -> ListPage:
        """GET one page. ``None`` or ``""`` leaves ``resourceVersion`` out (as continue needs).
        A page requested ahead with the same arguments (:meth:`prefetch_page`) is taken instead
        of asking again; one requested ahead with others is abandoned."""
        self._check_open()
        query = self._list_query(resource_version, limit, continue_token)
        target = self._resource.target("list")
        ahead = self._pop_ahead()
        if ahead is not None and ahead.query != tuple(query):
            ahead.abandon()
            ahead = None
        response = ahead.take() if ahead is not None else self._open_list(query)
        token = self._track(lambda: shutdown_response(response))
        try:
            body = read_all(response, target=target, server=self._client.server)
        except KubeError:
            if self._is_closed():
                raise KubeConnectionError(f"list {self._resource.name}: stopped") from None
            raise
        finally:
            self._untrack(token)
            response.release_conn()
        return self._parse_list(body)

    def prefetch_page(self, *, limit: int, continue_token: str) -> None:
        """Request the continue page ``list_page(resource_version=None, limit=limit,
        continue_token=continue_token)`` will ask for, now, on a helper thread
        (``kube/nextpage.py``): the server builds it while the caller works through the current
        page. At most one page is ahead; a newer request abandons an older one."""
        self._check_open()
        query = self._list_query(None, limit, continue_token)
        ahead = NextPage(
            query, lambda: self._open_list(query), name=f"list-ahead/{self._resource.name}"
        )
        with self._lock:
            closed = self._closed  # close() ran meanwhile: it cannot have seen this page
            older, self._ahead = self._ahead, (None if closed else ahead)
        if older is not None:
            older.abandon()
        if closed:
            ahead.abandon()

    def _list_query(
        self, resource_version: str | None, limit: int, continue_token: str | None
    ) -> list[tuple[str, str]]:
        query = list(self._selectors)
        if resource_version:  # "" (most recent) is the server's default: leave it out
            query.append(("resourceVersion", resource_version))
        if limit > 0:
            query.append(("limit", str(limit)))
        if continue_token:
            query.append(("continue", continue_token))
        return query

    def _open_list(self, query: list[tuple[str, str]]) -> HTTPResponse:
        return self._client.open(
            self._resource.path,
            query,
            target=self._resource.target("list"),
            read_timeout=self._read_timeout,
        )

    def _parse_list(self, body: bytes) -> ListPage:
        try:
            doc = decode_list(body, lean=self._resource.builtin, schema=self._schema)
        except orjson.JSONDecodeError as e:
            raise KubeDecodeError(f"list {self._resource.name}: response is not JSON: {e}") from e
        if not isinstance(doc, dict):
            raise KubeDecodeError(f"list {self._resource.name}: response is not a JSON object")
        meta = doc.get("metadata") or {}
        items = doc.get("items") or []
        if not isinstance(meta, dict) or not isinstance(items, list):
            raise KubeDecodeError(f"list {self._resource.name}: no metadata or items")
        list_kind = doc.get("kind")
        kind = (
            list_kind[: -len("List")]
            if isinstance(list_kind, str) and list_kind.endswith("List") and list_kind != "List"
            else self._resource.kind
        )
        api_version = doc.get("apiVersion") or self._resource.api_version
        good: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, dict):
                log.warning("list %s: skipping a non-object item", self._resource.name)
                continue
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
            good.append(item)
        return ListPage(
            good, str(meta.get("resourceVersion") or ""), str(meta.get("continue") or "")
        )

    def watch(
        self,
        *,
        resource_version: str,
        timeout_seconds: int,
        send_initial_events: bool = False,
    ) -> WatchStream:
        """Open a watch from ``resource_version`` with bookmarks on."""
        self._check_open()
        ahead = self._pop_ahead()  # a list given up part way: its next page is not wanted
        if ahead is not None:
            ahead.abandon()
        query = [
            *self._selectors,
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if send_initial_events:
            query.append(("sendInitialEvents", "true"))
            query.append(("resourceVersionMatch", "NotOlderThan"))
        response = self._client.open(
            self._resource.path,
            query,
            target=self._resource.target("watch"),
            read_timeout=self._read_timeout,
        )
        stream = WatchStream(
            response, resource=self._resource, server=self._client.server, schema=self._schema
        )
        token = self._track(stream.close)
        stream.on_close(lambda: self._untrack(token))
        return stream

    def close(self) -> None:
        """Shut down every open response (waking its reader) and refuse new requests."""
        with self._lock:
            self._closed = True
            closers = list(self._open.values())
            self._open.clear()
        ahead = self._pop_ahead()
        if ahead is not None:
            ahead.abandon()
        for close in closers:
            close()

    def _pop_ahead(self) -> NextPage | None:
        with self._lock:
            ahead, self._ahead = self._ahead, None
        return ahead

    def _track(self, close: Callable[[], None]) -> int:
        # Registering under the lock that close() takes makes stop race-free: either close()
        # sees this request, or we see the closed flag here.
        with self._lock:
            closed = self._closed
            if not closed:
                self._next_token += 1
                self._open[self._next_token] = close
                return self._next_token
        close()
        raise KubeConnectionError(f"{self._resource.name}: lister-watcher closed")

    def _untrack(self, token: int) -> None:
        with self._lock:
            self._open.pop(token, None)

    def _is_closed(self) -> bool:
        with self._lock:
            return self._closed

    def _check_open(self) -> None:
        if self._is_closed():
            raise KubeConnectionError(f"{self._resource.name}: lister-watcher closed")


__all__ = [
    "ApiResource",
    "KubeListerWatcher",
    "ListPage",
    "ListerWatcher",
    "MalformedEvent",
    "PagePrefetcher",
    "WatchEvent",
    "WatchStream",
]
