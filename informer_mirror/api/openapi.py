"""The OpenAPI 3 document of the API, generated from the registry (``/api/v1/openapi.json``).

Place in the data flow: built once by ``create_app`` (main thread, start-up) from the same
registry and the same parameter table (``params.LIST_PARAMETERS``) that generate and validate the
routes, so the document cannot describe an API that does not exist. It is accurate enough for
schemathesis to fuzz the API: every parameter with its bounds, every status code a route can
answer with its JSON schema, the bearer scheme when a token is configured.
"""

from __future__ import annotations

from typing import Any

from informer_mirror import __version__
from informer_mirror.api.params import LIST_PARAMETERS, MAX_UID, NO_CONTROL_PATTERN
from informer_mirror.api.resources import NAMESPACE_PREFIXES
from informer_mirror.registry import Registry, ResourceSpec

JSON = "application/json"
OPENAPI_VERSION = "3.0.3"

NULLABLE_STRING = {"type": "string", "nullable": True}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["status", "error", "message"],
        "properties": {
            "status": {"type": "integer"},
            "error": {"type": "string"},
            "message": {"type": "string"},
            "parameter": {"type": "string", "description": "The query parameter at fault."},
        },
    },
    "Document": {
        "type": "object",
        "description": "A mirrored object: common metadata plus the kind's own fields.",
        "properties": {
            "uid": NULLABLE_STRING,
            "name": NULLABLE_STRING,
            "namespace": NULLABLE_STRING,
            "kind": {"type": "string"},
            "apiVersion": {"type": "string"},
            "resourceVersion": NULLABLE_STRING,
            "creationTimestamp": NULLABLE_STRING,
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "additionalProperties": True,
    },
    "Page": {
        "type": "object",
        "required": ["items", "total", "page", "limit", "pages"],
        "properties": {
            "items": {"type": "array", "items": _ref("schemas", "Document")},
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "limit": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 0},
        },
    },
    "ResourceInfo": {
        "type": "object",
        "required": ["name", "apiVersion", "kind", "namespaced", "icon", "count", "synced"],
        "properties": {
            "name": {"type": "string"},
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "namespaced": {"type": "boolean"},
            "icon": {"type": "string"},
            "count": {"type": "integer", "minimum": 0, "nullable": True},
            "synced": {"type": "boolean"},
            "phase": NULLABLE_STRING,
            "degraded": NULLABLE_STRING,
        },
    },
    "ResourceList": {
        "type": "object",
        "required": ["items", "total"],
        "properties": {
            "items": {"type": "array", "items": _ref("schemas", "ResourceInfo")},
            "total": {"type": "integer", "minimum": 0},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "ready", "problems"],
        "properties": {
            "status": {"type": "string", "enum": ["healthy", "degraded", "unhealthy"]},
            "ready": {"type": "boolean"},
            "problems": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": True,
    },
    "Status": {
        "type": "object",
        "required": ["status", "ready", "informers", "writer", "backend"],
        "properties": {
            "status": {"type": "string", "enum": ["healthy", "degraded", "unhealthy"]},
            "ready": {"type": "boolean"},
            "informers": {"type": "object", "additionalProperties": {"type": "object"}},
            "writer": {"type": "object", "nullable": True},
            "backend": {"type": "object"},
        },
        "additionalProperties": True,
    },
    "Readiness": {
        "type": "object",
        "required": ["ready", "reasons", "degraded"],
        "properties": {
            "ready": {"type": "boolean"},
            "reasons": {"type": "array", "items": {"type": "string"}},
            "degraded": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Alive": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok"]}},
        "additionalProperties": True,
    },
    "Stats": {
        "type": "object",
        "required": ["total", "resources"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "resources": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["kind", "count", "breakdowns"],
                    "properties": {
                        "kind": {"type": "string"},
                        "count": {"type": "integer", "minimum": 0},
                        "breakdowns": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "additionalProperties": {"type": "integer", "minimum": 0},
                            },
                        },
                    },
                },
            },
        },
    },
}

RESPONSES: dict[str, Any] = {
    "BadRequest": _json(_ref("schemas", "Error"), "A query parameter is invalid (named)."),
    "Unauthorized": _json(_ref("schemas", "Error"), "Missing or wrong bearer token."),
    "NotFound": _json(_ref("schemas", "Error"), "No such object or resource."),
    "Unavailable": _json(_ref("schemas", "Error"), "The backend is unavailable; retry later."),
}

PATH_PARAMETERS: dict[str, Any] = {
    "uid": {
        "name": "uid",
        "in": "path",
        "required": True,
        "description": "The object's metadata.uid.",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_UID,
            "pattern": NO_CONTROL_PATTERN,
        },
    },
    "ns": {
        "name": "ns",
        "in": "path",
        "required": True,
        "description": "Namespace name.",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 63,
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        },
    },
}


def _query_parameters() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in LIST_PARAMETERS:
        entry: dict[str, Any] = {
            "name": p.name,
            "in": "query",
            "required": False,
            "description": p.description,
            "schema": dict(p.schema),
        }
        if p.example is not None:
            entry["example"] = p.example
        out[p.name] = entry
    return out


def _operation(
    operation_id: str,
    summary: str,
    ok: dict[str, Any],
    *,
    tag: str,
    parameters: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    secured: bool,
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok, "400": _ref("responses", "BadRequest")}
    if secured:
        responses["401"] = _ref("responses", "Unauthorized")
    responses.update(extra or {})
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": responses,
    }
    if parameters:
        op["parameters"] = parameters
    return {"get": op}


def _resource_paths(spec: ResourceSpec, *, secured: bool) -> dict[str, Any]:
    name, kind = spec.name, spec.kind
    page = _json(_ref("schemas", "Page"), f"A page of {kind} documents.")
    query = [_ref("parameters", p.name) for p in LIST_PARAMETERS]
    not_namespace = [q for q in query if q["$ref"] != "#/components/parameters/namespace"]
    backend = {"503": _ref("responses", "Unavailable")}
    paths: dict[str, Any] = {
        f"/api/v1/{name}": _operation(
            f"list_{spec.collection}",
            f"List {kind} objects",
            page,
            tag=name,
            parameters=query if spec.namespaced else not_namespace,
            extra=backend,
            secured=secured,
        ),
        f"/api/v1/{name}/{{uid}}": _operation(
            f"get_{spec.collection}",
            f"One {kind} by uid",
            _json(_ref("schemas", "Document"), f"The {kind} document."),
            tag=name,
            parameters=[_ref("parameters", "uid")],
            extra={"404": _ref("responses", "NotFound"), **backend},
            secured=secured,
        ),
    }
    if spec.namespaced:
        for prefix in NAMESPACE_PREFIXES:
            paths[f"/api/v1/{prefix}/{{ns}}/{name}"] = _operation(
                f"list_{spec.collection}_in_{prefix}",
                f"List {kind} objects in one namespace",
                page,
                tag=name,
                parameters=[_ref("parameters", "ns"), *not_namespace],
                extra=backend,
                secured=secured,
            )
    return paths


def _system_paths(*, secured: bool, serve_metrics: bool) -> dict[str, Any]:
    def doc(schema: str, text: str) -> dict[str, Any]:
        return _json(_ref("schemas", schema), text)

    paths: dict[str, Any] = {
        "/api/v1/resources": _operation(
            "list_resources",
            "Every mirrored resource with its count and sync state",
            doc("ResourceList", "The registry."),
            tag="system",
            extra={"503": _ref("responses", "Unavailable")},
            secured=secured,
        ),
        "/api/v1/status": _operation(
            "status",
            "Overall state and every informer, the writer and the backend",
            doc("Status", "The state."),
            tag="system",
            secured=secured,
        ),
        "/api/v1/health": _operation(
            "health",
            "Overall health: healthy, degraded or unhealthy (503)",
            doc("Health", "Healthy or degraded."),
            tag="system",
            extra={"503": doc("Health", "Unhealthy: the mirror is not being written.")},
            secured=secured,
        ),
        "/api/v1/stats/overview": _operation(
            "stats_overview",
            "Counts of every resource with breakdowns",
            doc("Stats", "Counts."),
            tag="system",
            extra={"503": _ref("responses", "Unavailable")},
            secured=secured,
        ),
        "/api/v1/openapi.json": _operation(
            "openapi",
            "This document",
            {"description": "OpenAPI 3 document.", "content": {JSON: {"schema": {}}}},
            tag="system",
            secured=secured,
        ),
    }
    probes = {
        "/healthz": ("healthz", "Alive", doc("Alive", "The process answers."), {}),
        "/readyz": (
            "readyz",
            "Ready: every informer synced and the first full sync flushed",
            doc("Readiness", "Ready."),
            {"503": doc("Readiness", "Not ready, with the reasons.")},
        ),
    }
    for path, (op_id, summary, ok, extra) in probes.items():
        op: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": ["probes"]}
        op["responses"] = {"200": ok, **extra}
        if secured:
            op["security"] = []
        paths[path] = {"get": op}
    if serve_metrics:
        paths["/metrics"] = {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text exposition format)",
                "tags": ["probes"],
                "responses": {
                    "200": {
                        "description": "The exposition.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **({"401": _ref("responses", "Unauthorized")} if secured else {}),
                },
            }
        }
    return paths


def openapi_document(
    registry: Registry,
    *,
    token_required: bool,
    serve_metrics: bool = True,
    metrics_require_token: bool = False,
) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the app ``create_app`` builds from the same arguments."""
    paths: dict[str, Any] = {}
    for spec in registry:
        paths.update(_resource_paths(spec, secured=token_required))
    paths.update(_system_paths(secured=token_required, serve_metrics=serve_metrics))
    if token_required and serve_metrics and not metrics_require_token:
        paths["/metrics"]["get"]["security"] = []
        paths["/metrics"]["get"]["responses"].pop("401", None)
    components: dict[str, Any] = {
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "parameters": {**_query_parameters(), **PATH_PARAMETERS},
    }
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "informer-mirror",
            "version": __version__,
            "description": f"Read-only REST API over the mirror of cluster {registry.cluster!r}.",
        },
        "paths": paths,
        "components": components,
        "tags": [{"name": "system"}, {"name": "probes"}, *({"name": s.name} for s in registry)],
    }
    if token_required:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
    return document
