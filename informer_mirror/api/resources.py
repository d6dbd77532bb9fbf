"""One Flask Blueprint per ResourceSpec: list, get by uid, and the two namespace routes.

Place in the data flow: the read side of the mirror. ``create_app`` calls :func:`resource_blueprint`
once per spec of the registry (main thread, at start-up); the views then run on waitress worker
threads, validate the request (``params``), make one backend call and return JSON. No view
touches the informers' Stores: the API serves what the backend holds, which is what the mirror
promises.

Routes of a resource ``{r}`` (the contracts of issue 6):

* ``GET /api/v1/{r}?page&limit&namespace&search&labelSelector&sort`` ->
  ``{"items", "total", "page", "limit", "pages"}``;
* ``GET /api/v1/{r}/{uid}`` -> the document, or 404;
* ``GET /api/v1/namespace/{ns}/{r}`` (the seed's path) and ``GET /api/v1/namespaces/{ns}/{r}``
  (the Kubernetes convention): the list in one namespace; 404 for a cluster-scoped resource.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from informer_mirror.api.errors import ApiError
from informer_mirror.api.params import (
    NO_PARAMETERS,
    ListQuery,
    namespace_value,
    parse_list_query,
    single_values,
    uid_value,
)
from informer_mirror.backends.base import Backend
from informer_mirror.registry import ResourceSpec

NAMESPACE_PREFIXES = ("namespace", "namespaces")
"""``/api/v1/<prefix>/{ns}/{resource}``: the seed's singular and Kubernetes' plural."""


def page_body(query: ListQuery, items: list[Any], total: int) -> dict[str, Any]:
    """The list answer: ``pages`` is ``ceil(total / limit)`` (0 when there is nothing)."""
    return {
        "items": items,
        "total": total,
        "page": query.page,
        "limit": query.limit,
        "pages": -(-total // query.limit),
    }


def resource_blueprint(spec: ResourceSpec, backend: Backend) -> Blueprint:
    """The blueprint serving ``spec``'s documents from ``backend``."""
    bp = Blueprint(f"resource_{spec.collection}", __name__)
    name = spec.name

    def run_query(query: ListQuery) -> dict[str, Any]:
        items, total = backend.query(
            spec,
            namespace=query.namespace,
            search=query.search,
            label_selector=query.label_selector,
            page=query.page,
            limit=query.limit,
            sort=query.sort,
        )
        return page_body(query, list(items), total)

    def list_objects() -> dict[str, Any]:
        query = parse_list_query(request.args.to_dict(flat=False), namespaced=spec.namespaced)
        return run_query(query)

    def get_object(uid: str) -> Any:
        single_values(request.args.to_dict(flat=False), NO_PARAMETERS)
        document = backend.get(spec, uid_value(uid))
        if document is None:
            raise ApiError(404, f"{name}: no object with uid {uid!r}")
        return document

    def list_in_namespace(ns: str) -> dict[str, Any]:
        if not spec.namespaced:
            raise ApiError(
                404, f"{name} is cluster-scoped: it has no namespaces; GET /api/v1/{name}"
            )
        namespace = namespace_value("namespace", ns)
        query = parse_list_query(
            request.args.to_dict(flat=False), namespaced=True, path_namespace=namespace
        )
        return run_query(query)

    bp.add_url_rule(f"/api/v1/{name}", "list", list_objects, methods=["GET"])
    bp.add_url_rule(f"/api/v1/{name}/<uid>", "get", get_object, methods=["GET"])
    for prefix in NAMESPACE_PREFIXES:
        bp.add_url_rule(
            f"/api/v1/{prefix}/<ns>/{name}",
            f"list_in_{prefix}",
            list_in_namespace,
            methods=["GET"],
        )
    return bp
