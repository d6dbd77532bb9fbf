"""List and watch options of the simulated API server, continue tokens, and the list response.

Place in the data flow: called on a request thread of ``sim/handler.py`` for ``list`` and ``watch``
routes. :func:`list_response` validates the options (``ValidateListOptions``: 422 Invalid), reads a
page from ``ClusterState`` and returns the response bytes; :func:`plan_watch` validates a watch and
says how to open it (``sim/watchstream.py`` then serves it). Errors are ``SimError`` with the real
apiserver's status, reason and message.

List semantics (``resourceVersion`` / ``resourceVersionMatch`` / ``limit`` / ``continue``), as the
apiserver documents them and ``as: endpoints/handlers/get.go`` + ``storage/cacher`` implement them:

- RV unset: the current state; with ``limit``, pages at that RV (a consistent snapshot: later pages
  are reconstructed at the first page's RV however the objects change in between);
- RV ``"0"``: "any" — served as the current state and, like the watch cache, **ignoring limit**;
- RV N (match unset or ``NotOlderThan``): not older than N, i.e. now; N in the future waits up to
  ``too_large_wait`` then answers 504 ``ResourceVersionTooLarge`` (Retry-After: 1);
- RV N with ``limit`` and no match, or with ``resourceVersionMatch=Exact``: the state *at* N; 410
  if N was compacted;
- ``continue``: opaque base64 of ``{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\\u0000"}`` as etcd3
  encodes it; combining it with ``resourceVersion`` is a 400; a token older than the compaction
  point is a 410 whose Status carries an "inconsistent continue" token (rv -1: continue from now),
  exactly like the real server. ``remainingItemCount`` is only sent without selectors.

Watch semantics: RV unset or ``"0"``: synthetic ADDED events for the current state, then changes;
RV N: changes after N exactly (410 as an ERROR event when compacted, 504 when in the future);
``sendInitialEvents=true`` (requires ``resourceVersionMatch=NotOlderThan``, else 422): the current
state, then a BOOKMARK annotated ``k8s.io/initial-events-end`` (when bookmarks are allowed).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from informer_mirror.sim.apierrors import (
    SimBadRequest,
    SimExpired,
    SimInvalid,
    SimTooLarge,
)
from informer_mirror.sim.routing import Query, Route, flag, resource_arg
from informer_mirror.sim.selectors import Selector, SelectorError
from informer_mirror.sim.state import ClusterState

Obj = dict[str, Any]

_INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list."
)


def _int(query: Query, key: str) -> int | None:
    value = query.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise SimBadRequest(
            f'invalid value for {key}: strconv.ParseInt: parsing "{value}": invalid syntax'
        ) from None


def _rv(value: str) -> int:
    try:
        rv = int(value)
    except ValueError:
        rv = -1
    if rv < 0:
        raise SimBadRequest(f'invalid resource version "{value}"')
    return rv


def _invalid_options(causes: list[tuple[str, str, str]]) -> SimInvalid:
    """422 for bad list options, as ``ValidateListOptions`` + ``errors.NewInvalid`` build it."""
    text = ", ".join(f"{field}: {kind}: {msg}" for field, kind, msg in causes)
    return SimInvalid(
        f'ListOptions.meta.k8s.io "" is invalid: {"[" + text + "]" if len(causes) > 1 else text}',
        details={
            "group": "meta.k8s.io",
            "kind": "ListOptions",
            "causes": [
                {"reason": f"FieldValue{kind}", "message": f"{kind}: {msg}", "field": field}
                for field, kind, msg in causes
            ],
        },
    )


def selector_for(route: Route, query: Query) -> Selector:
    """The request's label and field selectors; 400 when they do not parse."""
    try:
        return Selector.parse(
            route.kind,
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
        )
    except SelectorError as e:
        raise SimBadRequest(str(e)) from e


# -- continue tokens -----------------------------------------------------------------------------


def encode_continue(rv: int, start: str) -> str:
    """etcd3's continue token: raw URL-safe base64 of ``{"v","rv","start"}``."""
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_continue(token: str) -> tuple[int, str]:
    """``(rv, start)`` of a token; 400 when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise SimBadRequest("invalid continue token: continue key is not valid") from None
    if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
        raise SimBadRequest(
            "invalid continue token: continue key is not valid: server does not recognize this "
            "encoded version"
        )
    rv, start = data.get("rv"), data.get("start")
    if not isinstance(rv, int) or rv == 0 or rv < -1 or not isinstance(start, str):
        raise SimBadRequest(
            "invalid continue token: continue key is not valid: incorrect encoded start "
            "resourceVersion (version meta.k8s.io/v1)"
        )
    return rv, start


# -- list ----------------------------------------------------------------------------------------


def list_response(
    state: ClusterState, route: Route, query: Query, too_large_wait: float
) -> list[bytes]:
    """Body parts of a list response (join or write them in order)."""
    rv_param = query.get("resourceVersion", "")
    match = query.get("resourceVersionMatch", "")
    token = query.get("continue", "")
    limit = max(_int(query, "limit") or 0, 0)
    causes: list[tuple[str, str, str]] = []
    if match:
        if not rv_param:
            causes.append(
                (
                    "resourceVersionMatch",
                    "Forbidden",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                )
            )
        if token:
            causes.append(
                (
                    "resourceVersionMatch",
                    "Forbidden",
                    "resourceVersionMatch is forbidden when continue is provided",
                )
            )
        if match not in ("Exact", "NotOlderThan"):
            causes.append(
                (
                    "resourceVersionMatch",
                    "NotSupported",
                    f'Unsupported value: "{match}": supported values: "Exact", "NotOlderThan", ""',
                )
            )
        if match == "Exact" and rv_param == "0":
            causes.append(
                (
                    "resourceVersionMatch",
                    "Forbidden",
                    'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
                )
            )
    if "sendInitialEvents" in query:
        causes.append(("sendInitialEvents", "Forbidden", "sendInitialEvents is forbidden for list"))
    if causes:
        raise _invalid_options(causes)
    selector = selector_for(route, query)
    kind = route.kind
    prefix = f"{route.namespace}/" if route.namespace is not None and kind.namespaced else ""

    at_rv: int | None = None
    start = ""
    if token:
        if rv_param:
            raise SimBadRequest("specifying resource version is not allowed when using continue")
        token_rv, relative = decode_continue(token)
        at_rv = None if token_rv == -1 else token_rv
        start = prefix + relative
    elif rv_param == "0":
        limit = 0  # served from the watch cache, which ignores limit
    elif rv_param:
        wanted = _rv(rv_param)
        current = state.resource_version
        if wanted > current and not state.wait_for_resource_version(wanted, too_large_wait):
            raise SimTooLarge(wanted, state.resource_version)
        if match == "Exact" or (not match and limit):
            at_rv = wanted
    try:
        page, rv = state.list_page(
            resource_arg(kind),
            namespace=route.namespace,
            selector=selector,
            at_rv=at_rv,
            start=start,
            limit=limit,
        )
    except SimExpired:
        if not token:
            raise
        raise SimExpired(
            _INCONSISTENT_CONTINUE, list_continue=encode_continue(-1, start[len(prefix) :])
        ) from None
    meta: Obj = {"resourceVersion": str(rv)}
    if page.last_key is not None:
        meta["continue"] = encode_continue(rv, page.last_key[len(prefix) :] + "\x00")
        if page.remaining is not None:
            meta["remainingItemCount"] = page.remaining
    head = (
        b'{"kind":"'
        + kind.list_kind.encode()
        + b'","apiVersion":"'
        + kind.api_version.encode()
        + b'","metadata":'
        + orjson.dumps(meta)
        + b',"items":['
    )
    return [head, b",".join(o.body for o in page.items), b"]}"]


# -- watch ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WatchPlan:
    """How to open a validated watch request."""

    selector: Selector
    since_rv: int | None
    """Replay from this RV (exclusive); None: start now."""
    initial: bool
    """Send the current state as synthetic ADDED events first."""
    initial_events_end: bool
    """End the initial events with the ``k8s.io/initial-events-end`` bookmark."""
    wait_for_rv: int | None
    """An RV the state must reach first (else 504 ResourceVersionTooLarge as an ERROR event)."""
    bookmarks: bool
    timeout: float | None


def plan_watch(route: Route, query: Query) -> WatchPlan:
    """Validate watch options (422/400 as the real server) and decide how to start the stream."""
    match = query.get("resourceVersionMatch", "")
    sie_raw = query.get("sendInitialEvents")
    send_initial = None if sie_raw is None else flag(query, "sendInitialEvents")
    causes: list[tuple[str, str, str]] = []
    if send_initial is not None and match != "NotOlderThan":
        causes.append(
            (
                "resourceVersionMatch",
                "Forbidden",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            )
        )
    if match:
        if send_initial is None:
            causes.append(
                (
                    "resourceVersionMatch",
                    "Forbidden",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                    "provided",
                )
            )
        if match != "NotOlderThan":
            causes.append(
                (
                    "resourceVersionMatch",
                    "NotSupported",
                    f'Unsupported value: "{match}": supported values: "NotOlderThan"',
                )
            )
    if causes:
        raise _invalid_options(causes)
    selector = selector_for(route, query)
    rv_param = query.get("resourceVersion", "")
    rv = _rv(rv_param) if rv_param not in ("", "0") else None
    bookmarks = flag(query, "allowWatchBookmarks")
    timeout_s = _int(query, "timeoutSeconds")
    timeout = float(timeout_s) if timeout_s is not None and timeout_s > 0 else None
    if send_initial:
        return WatchPlan(selector, None, True, True, rv, bookmarks, timeout)
    if send_initial is None and rv is None:
        return WatchPlan(selector, None, True, False, None, bookmarks, timeout)
    return WatchPlan(selector, rv, False, False, rv, bookmarks, timeout)
