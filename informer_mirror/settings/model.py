"""The configuration as data: the frozen dataclasses every other module receives.

Place in the data flow: the first box. The loader builds one :class:`Settings` at start-up (main
thread, before any other thread exists); the composition root hands each section to the component
it configures. Nothing mutates it afterwards, so every thread may read it without a lock.

Owns the shape and the defaults: a field's default IS the documented default (the loader takes
absent keys' values from here, so code, README and example cannot drift apart). Durations are float
seconds. Secrets (the resolved MongoDB URI, the API token) live in ``field(repr=False)`` fields and
leave the process only through :meth:`Settings.to_public_dict`, which masks them;
``dataclasses.asdict`` would copy them verbatim, so do not use it on settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from informer_mirror.settings.resources import ResourcesSettings
from informer_mirror.settings.secrets import MASK, redact_mongo_uri

DEFAULT_CONFIG_PATH = Path("/etc/informer-mirror/informer-mirror.yaml")
"""Where ``informer-mirror run`` and ``check-config`` look when ``--config`` is not given."""

DEFAULT_MONGO_URI_ENV = "INFORMER_MIRROR_MONGO_URI"
"""Environment variable read for the MongoDB URI when none of uri/uri_env/uri_file is set."""

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterSettings:
    """Which Kubernetes cluster to mirror and how to reach it (``cluster:``)."""

    name: str = "default"
    """Cluster name stored with every document (``_mirror.cluster``), so several daemons can share
    one database. 1-63 letters, digits, ``.``, ``_``, ``-``."""
    kubeconfig: Path | None = None
    """Kubeconfig file. Null in the file means "as kubectl does": the first path in $KUBECONFIG,
    else ``~/.kube/config``; after loading it holds that resolved path, or None when
    ``in_cluster``. Whether the file exists is checked when the daemon connects."""
    context: str | None = None
    """Kubeconfig context; None uses the kubeconfig's current-context."""
    in_cluster: bool = False
    """Use the pod's service account instead of a kubeconfig."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SqliteBackendSettings:
    """The embedded default backend (``backend: {kind: sqlite}``)."""

    kind: Literal["sqlite"] = "sqlite"
    """Backend discriminator."""
    path: Path = Path("/var/lib/informer-mirror/mirror.db")
    """Database file (WAL mode adds ``-wal`` and ``-shm`` next to it); created if missing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteConcernSettings:
    """MongoDB write concern of the bulk writes (``backend.write_concern``)."""

    w: int | str = 1
    """Acknowledgement: a number of members (0 = unacknowledged) or a mode such as
    ``majority``. 1 is enough for a mirror that start-up reconciliation can always repair."""
    j: bool = False
    """Wait for the journal before acknowledging."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MongoBackendSettings:
    """MongoDB (``backend: {kind: mongo}``). The URI comes from exactly one of an inline ``uri``
    without a password, the variable ``uri_env``, or the file ``uri_file``."""

    kind: Literal["mongo"] = "mongo"
    """Backend discriminator."""
    uri: str = field(repr=False, metadata={"public": "redacted_uri"})
    """The resolved connection URI, password included. Never in repr(); show
    :attr:`redacted_uri` instead."""
    uri_env: str | None = None
    """Name of the environment variable the URI was read from, if that was the source."""
    uri_file: Path | None = None
    """File the URI was read from at load time, if that was the source."""
    database: str = "informer_mirror"
    """Database holding one collection per resource."""
    write_concern: WriteConcernSettings = field(default_factory=WriteConcernSettings)
    """Write concern of the bulk writes."""
    timeout: float = 10.0
    """Seconds to wait for a server to be selected or to connect before an operation fails."""

    @property
    def redacted_uri(self) -> str:
        """The URI with any password masked: safe for logs, errors and /status."""
        return redact_mongo_uri(self.uri)


BackendSettings = SqliteBackendSettings | MongoBackendSettings
"""Either backend; tell them apart with ``isinstance`` or ``.kind``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WriterSettings:
    """The batch writer (``writer:``)."""

    batch_size: int = 5000
    """Most keys taken from the work queue per batch (documents per bulk write). A batch is
    written once 2,000 keys (``writer.BATCH_FILL``; this many if fewer) are queued, with all that
    is queued by then up to this many; or after ``flush_interval``.

    Why 5000: when the writer falls behind (an initial list, a burst), each batch is one
    transaction, and a SQLite commit writes every page it dirtied to the WAL. The rows of a batch
    land at random places in the uid and name indexes, so a bigger batch dirties fewer pages per
    row and commits less often. Measured on 2 cores, initial sync of 100k Pods into SQLite on disk
    (``bench/pipeline.py``'s mirror, fresh processes alternating), 2000 -> 5000: medians 22.3k ->
    23.2k objects/s (8 each, 7 pairs of 8 favoured 5000) and 22.9k -> 24.4k (6 each), and 24.4k
    -> 26.6k (8 each) once a batch started on 2,000 keys instead of waiting for 5,000
    (``writer.BATCH_FILL`` has the 10k-Pod numbers); 10000 did no better than 5000 (23.8k and
    23.9k, 5 each). With SQLite statements of 128 rows, before they took 512, 5000 had done no
    better than 2000. Memory: a batch holds one copy of its documents at a time (~7 MB for 5,000
    Pods): the writer lets each document it read go once the stamped copy is made
    (``writer/batch.py``), and SQLite is handed the bytes, not a decoded copy
    (``backends/sqlite.py``). Resident memory after a 100k-Pod sync: 1.32 KiB per Pod, as with
    2000 (1.27-1.33); 1.39-1.42 with 5000 before those two changes."""
    flush_interval: float = 0.25
    """Longest wait, in seconds, for a batch to fill before writing what there is (a burst is
    written ``writer.IDLE_FLUSH`` = 20 ms after its last change, without waiting that long)."""
    drain_timeout: float = 30.0
    """Seconds allowed at shutdown to write the keys still queued; 0 = do not drain."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    """The REST API and /metrics (``api:``)."""

    enabled: bool = True
    """Serve the REST API at all."""
    host: str = "127.0.0.1"
    """Address to bind (an IP address or host name); 0.0.0.0 or :: exposes it to the network."""
    port: int = 8080
    """TCP port; 0 = any free port (tests)."""
    token_file: Path | None = None
    """File holding the bearer token clients must send; None = no authentication."""
    token: str | None = field(default=None, repr=False)
    """The token read from ``token_file`` at load time. Never in repr()."""
    metrics_port: int | None = None
    """Serve /metrics on its own port instead of the API port; 0 = any free port."""
    metrics_require_token: bool = False
    """Require the bearer token on /metrics too (needs ``token_file``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthSettings:
    """The health monitor and the circuit breakers (``health:``)."""

    interval: float = 30.0
    """Seconds between health checks of every reflector, the writer and the backend."""
    max_retries: int = 5
    """Consecutive failures after which a component's circuit opens."""
    retry_delay: float = 10.0
    """Seconds an open circuit waits before one trial call; it doubles per failed trial."""
    max_retry_delay: float = 300.0
    """Cap, in seconds, of that growing wait."""
    auto_reconnect: bool = True
    """Restart a reflector whose thread died or whose watch stalled."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggingSettings:
    """Log output on stderr (``logging:``)."""

    level: LogLevel = "INFO"
    """Least severe level logged."""
    format: LogFormat = "text"
    """``text`` for people, ``json`` (one object per line) for log shippers."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeEnvironment:
    """Facts read from the process environment at load time, not from the file: the one place
    other modules learn about systemd, since only settings may read ``os.environ``."""

    journal_stream: str | None = None
    """``$JOURNAL_STREAM`` (``device:inode``): stderr goes to journald when it matches stderr's
    fstat, and then log lines need no timestamp of their own."""
    notify_socket: str | None = None
    """``$NOTIFY_SOCKET``: where to send sd_notify READY=1 / STATUS= / WATCHDOG=1 / STOPPING=1."""
    watchdog_interval: float | None = None
    """Seconds from ``$WATCHDOG_USEC`` when the watchdog is meant for this process; ping at
    least twice per interval."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The whole validated configuration. Build it with ``load_settings`` or ``parse_settings``;
    ``Settings()`` gives the defaults (with the kubeconfig not yet resolved)."""

    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    """``cluster:`` section."""
    backend: BackendSettings = field(default_factory=SqliteBackendSettings)
    """``backend:`` section."""
    resources: ResourcesSettings = field(default_factory=ResourcesSettings)
    """``resources:`` section."""
    writer: WriterSettings = field(default_factory=WriterSettings)
    """``writer:`` section."""
    api: ApiSettings = field(default_factory=ApiSettings)
    """``api:`` section."""
    health: HealthSettings = field(default_factory=HealthSettings)
    """``health:`` section."""
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    """``logging:`` section."""
    runtime: RuntimeEnvironment = field(default_factory=RuntimeEnvironment)
    """From the environment, not the file."""
    config_file: Path | None = None
    """Absolute path of the file these settings came from; None when parsed from data."""

    def to_public_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready, with every secret masked: for ``check-config --show`` and
        ``/api/v1/status``."""
        public = _public(self)
        assert isinstance(public, dict)
        return public


def _public(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, object] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if f.repr:
                out[f.name] = _public(item)
            elif "public" in f.metadata:
                out[f.name] = getattr(value, f.metadata["public"])
            else:
                out[f.name] = None if item is None else MASK
        return out
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _public(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_public(v) for v in value]
    return value
