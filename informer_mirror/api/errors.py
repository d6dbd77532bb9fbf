"""JSON errors for every failure the API can answer: 400, 401, 404, 405, 503 and 500.

Place in the data flow: the last step of a request. Views and validators raise :class:`ApiError`
(or werkzeug raises its ``HTTPException`` for routing: 404, 405); the handlers registered by
:func:`register_error_handlers` turn both into one JSON shape, on the waitress worker thread that
serves the request. An unexpected exception becomes a 500 whose body says nothing about the
exception (the traceback goes to the log only); a backend outage becomes a 503, not a 500.

The shape (documented in README.rst and the OpenAPI document)::

    {"status": 400, "error": "Bad Request", "message": "limit: must be ...", "parameter": "limit"}

``parameter`` is present only when one query parameter is to blame.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from informer_mirror.errors import BackendError, QueryError

log = logging.getLogger(__name__)

JSON = "application/json"

_HOP_HEADERS = frozenset({"content-type", "content-length"})


class ApiError(Exception):
    """An error answer chosen on purpose: ``status`` with ``message`` (and the ``parameter`` to
    blame, for 400s)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter
        self.headers = headers or {}


class BadParameter(ApiError):
    """400 naming the query parameter at fault; the message starts with its name."""

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(400, f"{parameter}: {problem}", parameter=parameter)


def error_body(status: int, message: str, parameter: str | None = None) -> dict[str, Any]:
    """The JSON object every error answer carries."""
    body: dict[str, Any] = {
        "status": status,
        "error": HTTPStatus(status).phrase,
        "message": message,
    }
    if parameter is not None:
        body["parameter"] = parameter
    return body


def error_response(
    app: Flask,
    status: int,
    message: str,
    *,
    parameter: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON error response."""
    response = app.response_class(
        app.json.dumps(error_body(status, message, parameter)), status=status, mimetype=JSON
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    """Make every error of ``app`` a JSON answer (see the module docstring)."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(
            app, error.status, error.message, parameter=error.parameter, headers=error.headers
        )

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        message = _HTTP_MESSAGES.get(status) or error.description or HTTPStatus(status).phrase
        # keep what werkzeug computed for the client, e.g. Allow on a 405
        headers = {
            name: value for name, value in error.get_headers() if name.lower() not in _HOP_HEADERS
        }
        if status == 405:
            message = f"{request.method} is not allowed here; allowed: {headers.get('Allow', '')}"
        return error_response(app, status, message, headers=headers)

    @app.errorhandler(QueryError)
    def _query_error(error: QueryError) -> Response:
        # the validators should have caught it first; the backend's own check is the backstop
        return error_response(app, 400, str(error))

    @app.errorhandler(BackendError)
    def _backend_error(error: BackendError) -> Response:
        log.warning("api: %s %s: backend failed: %s", request.method, request.path, error)
        return error_response(
            app, 503, "the backend is unavailable; retry later", headers={"Retry-After": "5"}
        )

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # The one place a request's unexpected failure ends: log it whole, tell the client nothing.
        log.error("api: %s %s failed", request.method, request.path, exc_info=error)
        return error_response(app, 500, "internal error; the server log has the details")


_HTTP_MESSAGES = {
    404: "no such endpoint; GET /api/v1/openapi.json lists them",
    400: "the request could not be understood",
}
