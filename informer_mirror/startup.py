"""Start-up edges of the daemon: reaching the Kubernetes API, the backend and the API port, and
keeping systemd's start timeout in step with a long first sync.

Place in the data flow: called by the composition root (``daemon.py``) on the main thread. The
functions run once, before any component thread exists; each turns a dependency that is missing
or unreachable into one :class:`~informer_mirror.errors.StartupError` whose message says what to
fix (``informer-mirror run`` prints it as its one line and exits 1). :class:`StartTimeoutExtender`
is consulted on every progress report until the daemon is ready.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from informer_mirror.api import ApiServer
from informer_mirror.backends import Backend, open_backend
from informer_mirror.errors import (
    BackendError,
    ConfigError,
    PermanentBackendError,
    StartupError,
    TransientBackendError,
)
from informer_mirror.kube import ClientOptions, KubeClient
from informer_mirror.notify import Notifier
from informer_mirror.registry import Registry
from informer_mirror.retry import BackoffPolicy, ClientGoBackoff, call_with_retry
from informer_mirror.settings import Settings, SqliteBackendSettings

log = logging.getLogger(__name__)

EXTEND_INTERVAL = 30.0
"""While not ready: seconds between two requests for more start-up time, if the sync progressed."""
EXTEND_BY = 90.0
"""Seconds each EXTEND_TIMEOUT_USEC asks for (beyond ``TimeoutStartSec``; it never shortens it)."""


def connect_kube(settings: Settings, *, pool_maxsize: int = 32) -> KubeClient:
    """The Kubernetes client ``cluster:`` configures. Raises StartupError when the kubeconfig
    is missing or unreadable (or there is no in-cluster service account)."""
    cluster = settings.cluster
    options = ClientOptions(pool_maxsize=pool_maxsize)
    try:
        if cluster.in_cluster:
            client = KubeClient.in_cluster(options=options)
        else:
            path = cluster.kubeconfig
            if path is not None and not path.exists():
                raise StartupError(
                    f"cluster.kubeconfig: {path} does not exist (set cluster.kubeconfig or "
                    "$KUBECONFIG to a readable kubeconfig file)"
                )
            client = KubeClient.from_kubeconfig(path, context=cluster.context, options=options)
    except ConfigError as e:
        # Valid configuration, missing file: exit 1 (systemd may retry), not 2.
        raise StartupError(str(e)) from e
    context = f", context {cluster.context}" if cluster.context else ""
    log.info("kube: API server %s%s", client.server, context)
    return client


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedBackend:
    """The backend, ready for writes, and what it held at start-up."""

    backend: Backend
    """Connected, pinged, every resource's schema ensured."""
    populated: frozenset[str]
    """Resources that already have documents (from an earlier run)."""


def open_backend_with_retry(
    settings: Settings, registry: Registry, stop: threading.Event
) -> OpenedBackend | None:
    """Open the backend, ping it, ensure every resource's schema and count what it holds,
    retrying an unreachable one ``health.max_retries`` times with waits doubling from 1 s (at
    most) up to ``health.retry_delay``. None if stop was requested; StartupError when it stays
    unreachable or is unusable (a foreign file, a rejected schema)."""
    health = settings.health
    policy = BackoffPolicy(
        initial=min(1.0, health.retry_delay), factor=2.0, jitter=0.5, cap=health.retry_delay
    )

    def attempt() -> OpenedBackend:
        backend = open_backend(settings)
        try:
            backend.ping()
            for spec in registry:
                backend.ensure_schema(spec)
            populated = frozenset(spec.name for spec in registry if backend.count(spec) > 0)
        except BaseException:
            backend.close()
            raise
        return OpenedBackend(backend=backend, populated=populated)

    where = describe_backend(settings)
    try:
        return call_with_retry(
            attempt,
            stop,
            name=f"backend {where}",
            wait=ClientGoBackoff(policy),
            retry_on=(TransientBackendError,),
            max_attempts=health.max_retries,
        )
    except PermanentBackendError as e:
        raise StartupError(f"backend {where}: cannot be used: {e}") from e
    except BackendError as e:
        raise StartupError(
            f"backend {where}: unreachable after {health.max_retries} attempts: {e}"
        ) from e


def describe_backend(settings: Settings) -> str:
    """Where the data lives, safe to print (the MongoDB password masked)."""
    backend = settings.backend
    if isinstance(backend, SqliteBackendSettings):
        return f"sqlite {backend.path}"
    return f"mongo {backend.redacted_uri}"


def listen(server: ApiServer, port: int) -> ApiServer:
    """Start ``server``; StartupError when its port cannot be bound (in use, not permitted)."""
    try:
        server.start()
    except OSError as e:
        raise StartupError(
            f"{server.name}: cannot listen on {server.host}:{port}: {e.strerror or e}"
        ) from e
    return server


class StartTimeoutExtender:
    """Asks systemd for more start-up time while a long first sync makes progress.

    ``TimeoutStartSec`` bounds the wait for READY=1; a first sync of a large cluster may need
    longer. Every ``every`` seconds, if ``progress`` (any tuple of counters) changed since the
    last look, send ``EXTEND_TIMEOUT_USEC`` for ``by`` seconds; a stuck sync (an API server that
    never answers) sends nothing, so systemd's timeout still ends it. Main thread only.
    """

    def __init__(
        self,
        notifier: Notifier,
        *,
        clock: Callable[[], float],
        every: float = EXTEND_INTERVAL,
        by: float = EXTEND_BY,
    ) -> None:
        self._notifier = notifier
        self._clock = clock
        self._every = every
        self._by = by
        self._looked_at = clock()
        self._progress: tuple[int, ...] = ()

    def observe(self, progress: tuple[int, ...]) -> bool:
        """Look at the progress now; True when this sent an extension."""
        now = self._clock()
        if now - self._looked_at < self._every:
            return False
        moved = progress != self._progress
        self._looked_at, self._progress = now, progress
        if moved:
            self._notifier.extend_timeout(self._by)
        return moved
