"""Single-object endpoints of the simulated API server: get, create (POST), replace (PUT), delete.

Place in the data flow: called on a request thread of ``sim/handler.py`` with a resolved
``routing.Route``; validates the body the way the apiserver's handlers do (kind/apiVersion, the
namespace and name on the URL versus in the body) and hands it to ``ClusterState``, whose
``SimError`` (404, 409, 422, ...) the server turns into a ``Status``. Returns response bytes.
"""

from __future__ import annotations

from typing import Any

import orjson

from informer_mirror.sim.apierrors import SimBadRequest
from informer_mirror.sim.routing import Route, method_not_allowed, resource_arg
from informer_mirror.sim.state import ClusterState

Obj = dict[str, Any]


def get_response(state: ClusterState, route: Route) -> bytes:
    """Body of GET on one object."""
    assert route.name is not None
    return orjson.dumps(state.get(resource_arg(route.kind), route.namespace, route.name))


def _body_object(route: Route, body: bytes) -> Obj:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise SimBadRequest(f"the body of the request was in an unknown format: {e}") from None
    if not isinstance(obj, dict):
        raise SimBadRequest("the body of the request must be a JSON object")
    kind = route.kind
    if obj.get("apiVersion") not in (None, kind.api_version):
        raise SimBadRequest(
            f"the API version in the data ({obj['apiVersion']}) does not match the expected API "
            f"version ({kind.api_version})"
        )
    if obj.get("kind") not in (None, kind.kind):
        raise SimBadRequest(
            f"the kind in the data ({obj['kind']}) does not match the expected kind ({kind.kind})"
        )
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise SimBadRequest("metadata must be a JSON object")
    if kind.namespaced and route.namespace is not None:
        if meta.get("namespace") in (None, ""):
            meta["namespace"] = route.namespace
        elif meta["namespace"] != route.namespace:
            raise SimBadRequest(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
    return obj


def create_response(state: ClusterState, route: Route, body: bytes) -> bytes:
    """Body of POST to a collection (status 201)."""
    if kind_needs_namespace(route):
        raise method_not_allowed()
    return orjson.dumps(state.create(resource_arg(route.kind), _body_object(route, body)))


def kind_needs_namespace(route: Route) -> bool:
    """True for a namespaced kind addressed on its cluster-wide path (no POST there)."""
    return route.kind.namespaced and route.namespace is None


def update_response(state: ClusterState, route: Route, body: bytes) -> bytes:
    """Body of PUT on one object."""
    assert route.name is not None
    obj = _body_object(route, body)
    meta = obj["metadata"]
    if meta.get("name") in (None, ""):
        meta["name"] = route.name
    elif meta["name"] != route.name:
        raise SimBadRequest(
            f"the name of the object ({meta['name']}) does not match the name on the URL "
            f"({route.name})"
        )
    return orjson.dumps(state.update(resource_arg(route.kind), obj))


def delete_response(state: ClusterState, route: Route) -> tuple[int, bytes]:
    """Status and body of DELETE on one object: 200, or 202 while finalizers hold it."""
    assert route.name is not None
    obj = state.delete(resource_arg(route.kind), route.namespace, route.name)
    meta = obj["metadata"]
    pending = bool(meta.get("deletionTimestamp") and meta.get("finalizers"))
    return (202 if pending else 200), orjson.dumps(obj)
