"""Routing of the simulated API server: which kind, namespace, name and verb a request addresses.

Place in the data flow: the first step of every API request on a request thread of
``sim/handler.py``: :func:`resolve` maps ``/api/v1/...`` and ``/apis/{group}/{version}/...`` to
a :class:`Route` (a kind served by the ``ClusterState``, the namespace, the name, a subresource and
the Kubernetes verb: get, list, watch, create, update, delete, ...). Fault injection (403 per verb)
and the endpoints (``sim/crud.py``, ``sim/listwatch.py``) work from the route. Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from informer_mirror.kinds import KindInfo
from informer_mirror.sim.apierrors import SimBadRequest, SimError, SimNotFound
from informer_mirror.sim.state import ClusterState

Query = dict[str, str]
"""Query parameters, first value of each."""

_NOT_FOUND = "the server could not find the requested resource"
_BOOL_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_BOOL_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


def not_found() -> SimNotFound:
    """The apiserver's 404 for a path it does not serve."""
    return SimNotFound(_NOT_FOUND, details={})


def method_not_allowed() -> SimError:
    """405 for a verb the sim does not implement on an existing path."""
    return SimError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        details={},
    )


@dataclass(frozen=True, slots=True)
class Route:
    """A request addressed to a resource."""

    kind: KindInfo
    namespace: str | None
    name: str | None
    subresource: str | None
    verb: str


def resolve(state: ClusterState, method: str, segments: list[str], query: Query) -> Route:
    """Route ``/api/v1/...`` or ``/apis/{g}/{v}/...`` (``segments`` split on ``/``); SimNotFound
    for anything the server does not serve."""
    if segments[0] == "api" and len(segments) >= 3:
        group, version, rest = "", segments[1], segments[2:]
    elif segments[0] == "apis" and len(segments) >= 4:
        group, version, rest = segments[1], segments[2], segments[3:]
    else:
        raise not_found()
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3 or not all(rest):
        raise not_found()
    try:
        kind = state.kind(rest[0], group)
    except KeyError:
        raise not_found() from None
    if kind.version != version or (namespace is not None and not kind.namespaced):
        raise not_found()
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if method == "GET":
        verb = "get" if name else ("watch" if flag(query, "watch") else "list")
    elif method == "POST":
        verb = "create"
    elif method == "PUT":
        verb = "update"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    elif method == "PATCH":
        verb = "patch"
    else:
        verb = method.lower()
    return Route(kind, namespace, name, subresource, verb)


def flag(query: Query, key: str) -> bool:
    """A boolean query parameter as Go's ``strconv.ParseBool`` reads it; 400 otherwise."""
    value = query.get(key)
    if value is None or value in _BOOL_FALSE:
        return False
    if value in _BOOL_TRUE:
        return True
    raise SimBadRequest(
        f'invalid value for {key}: strconv.ParseBool: parsing "{value}": invalid syntax'
    )


def resource_arg(kind: KindInfo) -> str:
    """How ``ClusterState`` methods name ``kind``: ``pods``, ``deployments.apps``."""
    return f"{kind.plural}.{kind.group}" if kind.group else kind.plural
