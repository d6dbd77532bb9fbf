"""The ``/_sim/`` control endpoint: fault injection and introspection over HTTP (JSON in, JSON out).

Place in the data flow: ``sim/handler.py`` hands every request under ``/_sim/`` to
:func:`handle`, on the request's thread, before auth, faults and the request log: control requests
are never faulted, never need the bearer token and are never logged. Each endpoint calls the
``FaultInjector`` (or the state) the way a test in the same process would. POST bodies are
optional JSON objects.

==========================  ======================================================================
``GET  /_sim/state``        ``{"resourceVersion": N, "counts": {"pods": 12, "jobs.batch": 3}}``
``GET  /_sim/requests``     the request log: ``[{"method","path","query","status","time"}, ...]``;
                            ``?path_contains=/pods`` filters it
``DELETE /_sim/requests``   empty the request log
``GET  /_sim/faults``       the faults in force
``POST /_sim/reset``        clear every fault, resume stalled watches
``POST /_sim/watches/drop``     close every watch socket abruptly -> ``{"watches": n}``
``POST /_sim/watches/close``    end every watch cleanly (terminating chunk) -> ``{"watches": n}``
``POST /_sim/watches/stall``    ``{"new_watches": false}``: no more bytes on open (and new) watches
``POST /_sim/watches/unstall``  resume stalled watches
``POST /_sim/fail``         ``{"count": 3, "status": 503, "retry_after": 1, "path_contains": null,
                            "resource": "pods", "group": null}``: fail the next N API requests
``POST /_sim/delay``        ``{"seconds": 0.5}``: delay every API response (0: off)
``POST /_sim/forbid``       ``{"verb": "list", "resource": "pods", "group": null}``: 403 from now on
``POST /_sim/allow``        undo forbid (same body)
``POST /_sim/unserve``      ``{"resource": "pods", "group": null}``: 404 and gone from discovery
``POST /_sim/serve``        undo unserve (same body)
``POST /_sim/expire``       ``{"resource": null}``: compact history; old RVs and tokens now 410
``POST /_sim/restart``      ``{"downtime": 0.5}``: stops listening, answers 202, drops every
                            connection (this one too), listens again on the same port after
                            ``downtime`` s; requests sent after the 202 reach the new server or
                            are refused, never the old one
==========================  ======================================================================

Errors answer 400 (bad body or arguments), 404 (unknown path) or 405 (wrong method) with
``{"error": "..."}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import orjson

if TYPE_CHECKING:
    from informer_mirror.sim.server import SimServer


class _Responder(Protocol):
    close_connection: bool

    def send_json(self, status: int, obj: Any) -> None: ...


class _BadRequest(Exception):
    pass


def _str_or_none(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise _BadRequest(f"{key}: must be a string")
    return value


def _required_str(body: dict[str, Any], key: str) -> str:
    value = _str_or_none(body, key)
    if not value:
        raise _BadRequest(f"{key}: required")
    return value


def _number(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise _BadRequest(f"{key}: must be a non-negative number")
    return float(value)


def _get(sim: SimServer, path: str, query: dict[str, str]) -> Any:
    faults = sim.faults
    if path == "/_sim/state":
        return {"resourceVersion": sim.state.resource_version, "counts": sim.state.counts()}
    if path == "/_sim/requests":
        return [r.to_json() for r in faults.requests(query.get("path_contains"))]
    if path == "/_sim/faults":
        return faults.describe()
    return None


def _post(sim: SimServer, path: str, body: dict[str, Any]) -> Any:
    faults = sim.faults
    match path:
        case "/_sim/reset":
            faults.reset()
            return {"ok": True}
        case "/_sim/watches/drop":
            return {"watches": faults.drop_watches()}
        case "/_sim/watches/close":
            return {"watches": faults.close_watches()}
        case "/_sim/watches/stall":
            return {"watches": faults.stall_watches(new_watches=bool(body.get("new_watches")))}
        case "/_sim/watches/unstall":
            return {"watches": faults.unstall_watches()}
        case "/_sim/fail":
            count = int(_number(body, "count", 1))
            status = int(_number(body, "status", 500))
            retry = body.get("retry_after")
            if retry is not None and (not isinstance(retry, int) or retry < 0):
                raise _BadRequest("retry_after: must be a non-negative integer")
            try:
                faults.fail_next(
                    count,
                    status=status,
                    retry_after=retry,
                    path_contains=_str_or_none(body, "path_contains"),
                    resource=_str_or_none(body, "resource"),
                    group=_str_or_none(body, "group"),
                )
            except ValueError as e:
                raise _BadRequest(str(e)) from e
            return {"ok": True}
        case "/_sim/delay":
            faults.set_delay(_number(body, "seconds", 0.0))
            return {"ok": True}
        case "/_sim/forbid" | "/_sim/allow":
            verb, resource = _required_str(body, "verb"), _required_str(body, "resource")
            group = _str_or_none(body, "group")
            try:
                if path == "/_sim/forbid":
                    faults.forbid(verb, resource, group=group)
                else:
                    faults.allow(verb, resource, group=group)
            except ValueError as e:
                raise _BadRequest(str(e)) from e
            return {"ok": True}
        case "/_sim/unserve" | "/_sim/serve":
            resource, group = _required_str(body, "resource"), _str_or_none(body, "group")
            if path == "/_sim/unserve":
                faults.unserve(resource, group=group)
            else:
                faults.serve(resource, group=group)
            return {"ok": True}
        case "/_sim/expire":
            try:
                faults.expire_history(_str_or_none(body, "resource"))
            except KeyError as e:
                raise _BadRequest(f"resource: {e}") from e
            return {"ok": True, "resourceVersion": sim.state.resource_version}
    return None


def handle(
    responder: _Responder,
    sim: SimServer,
    *,
    method: str,
    path: str,
    query: dict[str, str],
    raw_body: bytes,
) -> None:
    """Answer one control request (see the module docstring for the endpoints)."""
    try:
        if method == "GET":
            result = _get(sim, path, query)
        elif method == "DELETE" and path == "/_sim/requests":
            sim.faults.clear_requests()
            result = {"ok": True}
        elif method == "POST":
            body = orjson.loads(raw_body) if raw_body.strip() else {}
            if not isinstance(body, dict):
                raise _BadRequest("the body must be a JSON object")
            if path == "/_sim/restart":
                downtime = _number(body, "downtime", 0.0)
                sim.stop_accepting()
                responder.close_connection = True
                responder.send_json(202, {"restarting": True, "downtime": downtime})
                sim.restart_in_background(downtime)
                return
            result = _post(sim, path, body)
        else:
            responder.send_json(405, {"error": f"{method} is not allowed on {path}"})
            return
    except (_BadRequest, orjson.JSONDecodeError) as e:
        responder.send_json(400, {"error": str(e)})
        return
    if result is None:
        responder.send_json(404, {"error": f"no control endpoint {path}"})
    else:
        responder.send_json(200, result)
