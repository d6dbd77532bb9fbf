"""The REST API: ``create_app(...)`` builds the Flask app that serves the mirror read-only.

Place in the data flow: the read side, after the backend. The daemon (main thread, start-up) calls
:func:`create_app` with its collaborators and hands the app to an :class:`ApiServer` (waitress on
the thread ``api``); Flask views then run on waitress's worker threads. There is no module-level
app: everything a view needs is passed in, so tests build apps over fakes of the same Protocols.

Modules: ``resources`` (one Blueprint per ResourceSpec), ``system`` (resources, status, health,
stats, probes, the OpenAPI document, /metrics), ``stats`` (counts and breakdowns), ``params``
(query validation), ``openapi`` (the document), ``status`` (the StatusProvider Protocol and the
readiness/health verdicts), ``errors`` (JSON errors), ``auth`` (the optional bearer token),
``jsonio`` (orjson for Flask), ``server`` (waitress on a named thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, Response, g, request

from informer_mirror.api.auth import bearer_auth
from informer_mirror.api.errors import register_error_handlers
from informer_mirror.api.jsonio import OrjsonProvider
from informer_mirror.api.openapi import openapi_document
from informer_mirror.api.resources import resource_blueprint
from informer_mirror.api.server import ApiServer
from informer_mirror.api.status import Readiness, StatusProvider, health, readiness
from informer_mirror.api.system import metrics_blueprint, probes_blueprint, system_blueprint
from informer_mirror.backends.base import Backend
from informer_mirror.metrics import MirrorMetrics
from informer_mirror.registry import Registry
from informer_mirror.settings import ApiSettings

__all__ = [
    "ApiServer",
    "Readiness",
    "StatusProvider",
    "create_app",
    "create_metrics_app",
    "health",
    "readiness",
]

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
"""Paths that never need the token: probes must work without a secret."""
UNMATCHED = "unmatched"
"""``endpoint`` label of requests no route matched (404/405): bounded, unlike their paths."""


def _base_app(name: str, metrics: MirrorMetrics | None) -> Flask:
    app = Flask(name, static_folder=None)
    app.json = OrjsonProvider(app)
    # a trailing slash is tolerated; "//" is a 404 rather than an HTML redirect
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    register_error_handlers(app)
    if metrics is not None:
        _instrument(app, metrics)
    return app


def _instrument(app: Flask, metrics: MirrorMetrics) -> None:
    """Observe every request's duration by route template and status."""

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("started")
        if started is not None:
            rule = request.url_rule
            endpoint = rule.rule if rule is not None else UNMATCHED
            metrics.observe_request(endpoint, response.status_code, time.perf_counter() - started)
        return response


def create_app(
    *,
    registry: Registry,
    backend: Backend,
    status: StatusProvider,
    metrics: MirrorMetrics | None = None,
    settings: ApiSettings | None = None,
    serve_metrics: bool | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Flask:
    """The API app over ``backend`` for the resources of ``registry``.

    ``status`` gives component state (informers, writer, health monitor); ``metrics`` records
    request durations and, when ``serve_metrics`` (default: ``metrics`` is given and
    ``settings.metrics_port`` is None), is exposed at ``/metrics``. ``settings`` gives the token
    (``settings.token``) and whether /metrics needs it. ``clock`` is the monotonic clock the
    components stamp times with (ages in /api/v1/status are computed against it).
    """
    settings = settings or ApiSettings()
    if serve_metrics is None:
        serve_metrics = metrics is not None and settings.metrics_port is None
    if serve_metrics and metrics is None:
        raise ValueError("serve_metrics needs metrics")
    app = _base_app(__name__, metrics)
    open_paths = set(OPEN_PATHS)
    if serve_metrics and not settings.metrics_require_token:
        open_paths.add("/metrics")
    hook = bearer_auth(settings.token, open_paths=frozenset(open_paths))
    if hook is not None:
        # after the timer (so 401s are observed too), before any view
        app.before_request(hook)
    for spec in registry:
        app.register_blueprint(resource_blueprint(spec, backend))
    document = openapi_document(
        registry,
        token_required=settings.token is not None,
        serve_metrics=serve_metrics,
        metrics_require_token=settings.metrics_require_token,
    )
    app.register_blueprint(
        system_blueprint(
            registry=registry, backend=backend, status=status, document=document, clock=clock
        )
    )
    app.register_blueprint(probes_blueprint(registry=registry, status=status))
    if serve_metrics:
        assert metrics is not None
        app.register_blueprint(metrics_blueprint(metrics))
    return app


def create_metrics_app(*, metrics: MirrorMetrics, settings: ApiSettings | None = None) -> Flask:
    """A separate app serving only ``/metrics`` (for ``api.metrics_port``), with the token
    when ``settings.metrics_require_token``."""
    settings = settings or ApiSettings()
    app = _base_app(f"{__name__}.metrics", metrics)
    if settings.metrics_require_token:
        hook = bearer_auth(settings.token, open_paths=frozenset())
        if hook is not None:
            app.before_request(hook)
    app.register_blueprint(metrics_blueprint(metrics))
    return app
