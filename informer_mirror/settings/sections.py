"""Parsers for the sections other than ``resources:``: raw YAML mapping in, dataclass out.

Place in the data flow: called by ``loader.parse_settings`` at start-up (main thread). Owns each
section's list of keys (the ``*_KEYS`` tuples: adding a key means adding it there, to the
dataclass in ``model.py`` with its default and docstring, to the example config and to the README
reference) and the rules that span several keys of one section. Secret values are resolved here,
through ``secrets.py``, so they exist only inside the settings object.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

from informer_mirror.settings import syntax
from informer_mirror.settings.model import (
    DEFAULT_MONGO_URI_ENV,
    ApiSettings,
    BackendSettings,
    ClusterSettings,
    HealthSettings,
    LogFormat,
    LoggingSettings,
    LogLevel,
    MongoBackendSettings,
    SqliteBackendSettings,
    WriteConcernSettings,
    WriterSettings,
)
from informer_mirror.settings.secrets import (
    has_password,
    mongo_uri_problem,
    read_secret_file,
    redact_mongo_uri,
    secret_from_env,
)
from informer_mirror.settings.values import (
    Context,
    Section,
    boolean,
    choice,
    fail,
    integer,
    mapping,
    seconds,
    string,
)

CLUSTER_KEYS = ("name", "kubeconfig", "context", "in_cluster")
SQLITE_KEYS = ("kind", "path")
MONGO_KEYS = ("kind", "uri", "uri_env", "uri_file", "database", "write_concern", "timeout")
WRITE_CONCERN_KEYS = ("w", "j")
WRITER_KEYS = ("batch_size", "flush_interval", "drain_timeout")
API_KEYS = ("enabled", "host", "port", "token_file", "metrics_port", "metrics_require_token")
HEALTH_KEYS = ("interval", "max_retries", "retry_delay", "max_retry_delay", "auto_reconnect")
LOGGING_KEYS = ("level", "format")

BACKEND_KINDS = ("mongo", "sqlite")
LOG_LEVELS: tuple[LogLevel, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
_URI_SOURCES = ("uri", "uri_env", "uri_file")

_port = integer(minimum=0, maximum=65535)
_CLUSTER_NAME_RULE = "1-63 letters, digits, '.', '_' or '-', starting and ending alphanumeric"


def parse_cluster(raw: object, ctx: Context) -> ClusterSettings:
    """``cluster:``; a null kubeconfig is resolved as kubectl resolves it."""
    s = Section(raw, "cluster", ClusterSettings, CLUSTER_KEYS)
    name = s.get("name", string(syntax.is_cluster_name, _CLUSTER_NAME_RULE))
    in_cluster = s.get("in_cluster", boolean)
    context = s.optional("context", string())
    kubeconfig = s.optional("kubeconfig", ctx.path)
    if in_cluster and kubeconfig is not None:
        fail("cluster.kubeconfig", "must be null when cluster.in_cluster is true")
    if in_cluster and context is not None:
        fail("cluster.context", "must be null when cluster.in_cluster is true")
    if not in_cluster and kubeconfig is None:
        kubeconfig = _default_kubeconfig(ctx)
    return ClusterSettings(name=name, kubeconfig=kubeconfig, context=context, in_cluster=in_cluster)


def _default_kubeconfig(ctx: Context) -> Path:
    # kubectl merges every file in $KUBECONFIG; the first one is the one it writes to and the one
    # whose current-context wins, so it is the one we use.
    listed = [p for p in ctx.env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return Path(listed[0]).absolute()
    return ctx.home() / ".kube" / "config"


def parse_backend(raw: object, ctx: Context) -> BackendSettings:
    """``backend:``, whose keys depend on its ``kind``."""
    data = mapping(raw, "backend")
    raw_kind = data.get("kind")
    kind = "sqlite" if raw_kind is None else choice(BACKEND_KINDS)(raw_kind, "backend.kind")
    own, other = (SQLITE_KEYS, MONGO_KEYS) if kind == "sqlite" else (MONGO_KEYS, SQLITE_KEYS)
    for key in data:
        if key not in own and key in other:
            fail(f"backend.{key}", f"does not apply to backend.kind {kind}")
    if kind == "sqlite":
        s = Section(data, "backend", SqliteBackendSettings, SQLITE_KEYS)
        if s.raw("path") == ":memory:":
            fail("backend.path", "must be a file: the mirror is shared by threads and restarts")
        return SqliteBackendSettings(path=s.get("path", ctx.path))
    return _parse_mongo(Section(data, "backend", MongoBackendSettings, MONGO_KEYS), ctx)


def _parse_mongo(s: Section, ctx: Context) -> MongoBackendSettings:
    given = [key for key in _URI_SOURCES if s.raw(key) is not None]
    if len(given) > 1:
        fail("backend", f"set only one of uri, uri_env, uri_file (got {', '.join(given)})")
    source = given[0] if given else "uri_env"
    uri_env: str | None = None
    uri_file: Path | None = None
    if source == "uri":
        uri = string()(s.raw("uri"), "backend.uri")
        if has_password(uri):
            fail("backend.uri", "contains a password; use uri_env or uri_file")
        field, prefix = "backend.uri", ""
    elif source == "uri_env":
        uri_env = DEFAULT_MONGO_URI_ENV
        if s.raw("uri_env") is not None:
            uri_env = string(syntax.is_env_name, "an environment variable name")(
                s.raw("uri_env"), "backend.uri_env"
            )
        uri = secret_from_env(ctx.env, uri_env, "backend.uri_env")
        field, prefix = "backend.uri_env", f"the URI in {uri_env} "
    else:
        uri_file = ctx.path(s.raw("uri_file"), "backend.uri_file")
        uri = read_secret_file(uri_file, "backend.uri_file")
        field, prefix = "backend.uri_file", f"the URI in {uri_file} "
    problem = mongo_uri_problem(uri)
    if problem is not None and source == "uri":
        fail(field, problem, got=redact_mongo_uri(uri))  # no password: checked above
    if problem is not None:
        fail(field, prefix + problem)  # the value may hold a password: never shown
    return MongoBackendSettings(
        uri=uri,
        uri_env=uri_env,
        uri_file=uri_file,
        database=s.get(
            "database", string(syntax.is_mongo_database, 'a MongoDB database name (no /\\. "$)')
        ),
        write_concern=_parse_write_concern(s.raw("write_concern")),
        timeout=s.get("timeout", seconds()),
    )


def _parse_write_concern(raw: object) -> WriteConcernSettings:
    s = Section(raw, "backend.write_concern", WriteConcernSettings, WRITE_CONCERN_KEYS)
    return WriteConcernSettings(w=s.get("w", _write_concern_w), j=s.get("j", boolean))


def _write_concern_w(value: object, path: str) -> int | str:
    if isinstance(value, str):
        return string()(value, path)
    if isinstance(value, int) and not isinstance(value, bool):
        return integer(minimum=0)(value, path)
    fail(path, "must be a number of members or a mode name such as 'majority'", got=value)


def parse_writer(raw: object) -> WriterSettings:
    """``writer:``."""
    s = Section(raw, "writer", WriterSettings, WRITER_KEYS)
    return WriterSettings(
        batch_size=s.get("batch_size", integer(minimum=1)),
        flush_interval=s.get("flush_interval", seconds()),
        drain_timeout=s.get("drain_timeout", seconds(zero=True)),
    )


def parse_api(raw: object, ctx: Context) -> ApiSettings:
    """``api:``; the token file is read now, so a bad one stops the start, not the first request."""
    s = Section(raw, "api", ApiSettings, API_KEYS)
    port = s.get("port", _port)
    metrics_port = s.optional("metrics_port", _port)
    if metrics_port is not None and metrics_port == port != 0:
        fail(
            "api.metrics_port",
            f"must differ from api.port ({port}); leave it null to serve /metrics on api.port",
        )
    token_file = s.optional("token_file", ctx.path)
    token = None if token_file is None else read_secret_file(token_file, "api.token_file")
    require_token = s.get("metrics_require_token", boolean)
    if require_token and token is None:
        fail("api.metrics_require_token", "needs api.token_file")
    return ApiSettings(
        enabled=s.get("enabled", boolean),
        host=s.get("host", string(syntax.is_host, "an IP address or a host name")),
        port=port,
        token_file=token_file,
        token=token,
        metrics_port=metrics_port,
        metrics_require_token=require_token,
    )


def parse_health(raw: object) -> HealthSettings:
    """``health:``."""
    s = Section(raw, "health", HealthSettings, HEALTH_KEYS)
    retry_delay = s.get("retry_delay", seconds())
    max_retry_delay = s.get("max_retry_delay", seconds())
    if max_retry_delay < retry_delay:
        fail(
            "health.max_retry_delay",
            f"must be >= health.retry_delay ({retry_delay:g})",
            got=max_retry_delay,
        )
    return HealthSettings(
        interval=s.get("interval", seconds()),
        max_retries=s.get("max_retries", integer(minimum=1)),
        retry_delay=retry_delay,
        max_retry_delay=max_retry_delay,
        auto_reconnect=s.get("auto_reconnect", boolean),
    )


def parse_logging(raw: object) -> LoggingSettings:
    """``logging:``; level and format are case-insensitive and normalised."""
    s = Section(raw, "logging", LoggingSettings, LOGGING_KEYS)
    # choice() returns one of the options themselves, so the Literal casts are exact.
    return LoggingSettings(
        level=cast(LogLevel, s.get("level", choice(LOG_LEVELS, fold_case=True))),
        format=cast(LogFormat, s.get("format", choice(LOG_FORMATS, fold_case=True))),
    )
