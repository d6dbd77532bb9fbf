"""The connection to one Kubernetes API server: configuration, raw requests, error translation.

Place in the data flow: the bottom of the informer stack. ``KubeClient`` wraps the official client's
``ApiClient`` (kubeconfig + context, or the in-cluster service account) and exposes one primitive,
:meth:`KubeClient.open`, a GET that returns the *unread* urllib3 response. Nothing here builds the
client's typed models: callers parse the raw bytes with orjson (see ``listwatch.py``), because typed
models cost 0.3-3.4 ms per Pod against ~15 us for raw JSON.

Error translation happens here and only here (ARCHITECTURE.md §6): urllib3 and ``ApiException``
become the ``KubeError`` tree of :mod:`informer_mirror.errors`. urllib3's own retries are switched
off (``Configuration.retries = False``; ``client_go_retries`` stays off) so the reflector's
client-go backoff is the only retry loop and every request the server sees is one we chose to make.

Threads: any. One ``KubeClient`` is shared by every reflector thread of a cluster; urllib3's pool is
thread-safe. The client holds no lock across I/O.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlencode

import orjson
import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from informer_mirror.errors import (
    ConfigError,
    KubeApiError,
    KubeConnectionError,
    KubeError,
    KubeExpiredError,
    KubeForbidden,
    KubeNotFound,
    KubeResourceVersionTooLarge,
    KubeServerError,
    KubeTimeoutError,
    KubeTooManyRequests,
    KubeUnauthorized,
)

log = logging.getLogger(__name__)

HTTPResponse = urllib3.HTTPResponse
"""What :meth:`KubeClient.open` returns: a streaming, not yet read, urllib3 response."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    """How requests are made. Durations are float seconds."""

    connect_timeout: float = 10.0
    """TCP (and TLS) connect timeout, seconds."""
    read_timeout: float = 90.0
    """Longest silence tolerated between two socket reads, seconds. Keep it above the server's
    bookmark interval (~60 s) so only a dead or stalled connection trips it (pitfall 7)."""
    tcp_keepalive: bool = True
    """Ask the kernel for client-go's TCP keepalive timings (30 s idle, 15 s x 9 probes)."""
    pool_maxsize: int = 32
    """Connections kept per host: each open watch holds one for its lifetime."""

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0:
            raise ConfigError("kube.connect_timeout: must be > 0")
        if self.read_timeout <= 0:
            raise ConfigError("kube.read_timeout: must be > 0")
        if self.pool_maxsize < 1:
            raise ConfigError("kube.pool_maxsize: must be >= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestTarget:
    """What a request is about, so an error message can name the resource and verb."""

    verb: str
    """RBAC verb: ``list``, ``watch`` or ``get``."""
    resource: str
    """Plural resource name, e.g. ``pods``."""
    group: str
    """API group; ``""`` for the core group."""
    namespace: str | None = None
    """Namespace of a namespaced request, ``None`` for a cluster-wide one."""


class KubeClient:
    """One API server, reached through the official client's ``ApiClient`` without its models."""

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        *,
        options: ClientOptions | None = None,
        context: str | None = None,
    ) -> None:
        self._api = api_client
        self._options = options or ClientOptions()
        self._context = context
        self._timeout = (self._options.connect_timeout, self._options.read_timeout)

    @classmethod
    def from_kubeconfig(
        cls,
        path: str | Path | None = None,
        *,
        context: str | None = None,
        options: ClientOptions | None = None,
    ) -> KubeClient:
        """Build a client from a kubeconfig file (``None``: the client's default lookup)."""
        configuration = k8s_client.Configuration()
        try:
            _untyped(k8s_config.load_kube_config)(
                config_file=str(path) if path is not None else None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError, ValueError, TypeError, yaml.YAMLError) as e:
            where = str(path) if path is not None else "the default kubeconfig"
            ctx = f" (context {context!r})" if context else ""
            raise ConfigError(f"cluster.kubeconfig: cannot load {where}{ctx}: {e}") from e
        return cls._build(configuration, options, context)

    @classmethod
    def in_cluster(cls, *, options: ClientOptions | None = None) -> KubeClient:
        """Build a client from the pod's service account (token, CA and service host)."""
        configuration = k8s_client.Configuration()
        try:
            _untyped(k8s_config.load_incluster_config)(client_configuration=configuration)
        except (ConfigException, OSError) as e:
            raise ConfigError(f"cluster.in_cluster: no in-cluster configuration: {e}") from e
        return cls._build(configuration, options, None)

    @classmethod
    def _build(
        cls,
        configuration: k8s_client.Configuration,
        options: ClientOptions | None,
        context: str | None,
    ) -> KubeClient:
        opts = options or ClientOptions()
        # False (not 0 or None): urllib3 re-raises the original error instead of retrying, and
        # None would mean urllib3's default of 3 silent retries under our own backoff.
        configuration.retries = False
        configuration.client_go_retries = False
        configuration.keep_alive = opts.tcp_keepalive
        configuration.connection_pool_maxsize = opts.pool_maxsize
        return cls(k8s_client.ApiClient(configuration), options=opts, context=context)

    @property
    def server(self) -> str:
        """The configured cluster's server URL, e.g. ``https://10.0.0.1:6443``."""
        return str(self._api.configuration.host)

    @property
    def context(self) -> str | None:
        """The kubeconfig context this client was built from, if one was named."""
        return self._context

    @property
    def options(self) -> ClientOptions:
        """The request options in force."""
        return self._options

    def close(self) -> None:
        """Close the connection pool. Open responses become unreadable."""
        _untyped(self._api.close)()

    def open(
        self,
        path: str,
        query: Sequence[tuple[str, str]] | Mapping[str, str],
        *,
        target: RequestTarget,
        read_timeout: float | None = None,
    ) -> HTTPResponse:
        """GET ``path?query`` and return the 2xx response unread, for the caller to stream.

        Raises the translated ``KubeError`` for a non-2xx answer, a refused or reset connection
        (``KubeConnectionError``) or a read timeout before the headers (``KubeTimeoutError``).
        """
        method, url, headers, _body, _post = self._api.param_serialize(
            "GET",
            path,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        if query:
            url = f"{url}?{urlencode(query)}"
        timeout = self._timeout
        if read_timeout is not None:
            timeout = (self._options.connect_timeout, read_timeout)
        try:
            # The generated ApiClient always streams (preload_content=False): call_api hands back
            # the RESTResponse whose ``.response`` is the unread urllib3 response.
            rest = self._api.call_api(method, url, header_params=headers, _request_timeout=timeout)
        except ApiException as e:  # the REST layer reports TLS failures as status 0
            raise KubeConnectionError(f"{target.verb} {target.resource}: {e.reason}") from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise translate_transport_error(e, target=target, server=self.server) from e
        response: HTTPResponse = rest.response
        if not 200 <= response.status <= 299:
            try:
                body = read_all(response, target=target, server=self.server)
            finally:
                response.release_conn()
            raise_for_status(response.status, body, response.headers, target=target)
        return response


def _untyped(function: Any) -> Any:
    """The official client's functions carry no annotations; call them as ``Any``."""
    return function


def read_all(response: HTTPResponse, *, target: RequestTarget, server: str) -> bytes:
    """Read a whole (bounded) body, translating transport errors."""
    try:
        return bytes(response.read())
    except (urllib3.exceptions.HTTPError, OSError) as e:
        raise translate_transport_error(e, target=target, server=server) from e


def shutdown_response(response: HTTPResponse) -> None:
    """Wake a thread blocked reading ``response`` from another thread, then close it.

    ``close()`` alone can wait on the socket a reader holds (and on TLS, on the SSL object's
    lock), so shut the socket down first: the blocked ``recv`` returns at once with EOF. This is
    what ``kubernetes.watch.Watch.stop`` does since v36.
    """
    connection: Any = getattr(response, "connection", None)
    sock: socket.socket | None = getattr(connection, "sock", None) if connection else None
    if sock is not None:
        # Already closed by the peer or by the reader: nothing left to wake.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    # Best effort: the reader owns the error reporting.
    with contextlib.suppress(OSError, urllib3.exceptions.HTTPError):
        response.close()


def translate_transport_error(
    error: BaseException, *, target: RequestTarget, server: str
) -> KubeError:
    """Map a urllib3/socket failure (no HTTP status) onto a connection or timeout error."""
    reason: BaseException = error
    if isinstance(reason, urllib3.exceptions.MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    what = f"{target.verb} {_describe(target)} at {server}"
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError | TimeoutError) and not isinstance(
        reason, urllib3.exceptions.ConnectTimeoutError
    ):
        return KubeTimeoutError(f"{what}: read timed out ({reason})")
    return KubeConnectionError(f"{what}: connection failed ({reason})")


def raise_for_status(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    target: RequestTarget,
) -> NoReturn:
    """Raise the ``KubeApiError`` subclass for an error Status (HTTP answer or watch ERROR)."""
    raise status_error(status, _parse_status(body), headers, target=target)


def status_error(
    status: int,
    payload: Mapping[str, Any],
    headers: Mapping[str, str] | None,
    *,
    target: RequestTarget,
) -> KubeApiError:
    """Build the error for a ``Status`` object, e.g. one carried by a watch ``ERROR`` event."""
    reason = str(payload.get("reason") or "")
    message = str(payload.get("message") or "").strip()
    details = payload.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    what = f"{target.verb} {_describe(target)}"
    suffix = f": {message}" if message else ""
    if status == 410:
        return KubeExpiredError(
            f"{what}: resourceVersion or continue token expired{suffix}",
            status=status,
            reason=reason or "Expired",
        )
    if status == 429:
        return KubeTooManyRequests(
            f"{what}: throttled by the API server (429){suffix}",
            status=status,
            reason=reason or "TooManyRequests",
            retry_after=_retry_after(headers, details),
        )
    if status == 401:
        return KubeUnauthorized(
            f"{what}: unauthorized (401): the API server rejected the credentials{suffix}",
            status=status,
            reason=reason or "Unauthorized",
        )
    if status == 403:
        return KubeForbidden(
            _forbidden_message(target, message), status=status, reason=reason or "Forbidden"
        )
    if status == 404:
        return KubeNotFound(
            f"{what}: the resource type is not served by this API server (404): check the group,"
            f" version and plural, or whether the CRD is installed{suffix}",
            status=status,
            reason=reason or "NotFound",
        )
    if status == 504 and _has_cause(causes, "ResourceVersionTooLarge"):
        return KubeResourceVersionTooLarge(
            f"{what}: resourceVersion is newer than the server's cache (504){suffix}",
            status=status,
            reason="ResourceVersionTooLarge",
        )
    if status >= 500:
        return KubeServerError(
            f"{what}: server error {status}{suffix}", status=status, reason=reason
        )
    return KubeApiError(f"{what}: HTTP {status}{suffix}", status=status, reason=reason)


def _forbidden_message(target: RequestTarget, server_message: str) -> str:
    group = target.group
    scope = (
        f' in namespace "{target.namespace}" (a Role there, or a ClusterRole)'
        if target.namespace
        else " cluster-wide (a ClusterRole)"
    )
    rule = (
        f'{{apiGroups: ["{group}"], resources: ["{target.resource}"],'
        ' verbs: ["get", "list", "watch"]}'
    )
    text = (
        f'forbidden: cannot {target.verb} {target.resource} in API group "{group}"{scope}'
        f" — add the rule {rule} and bind it to this identity"
    )
    if server_message:
        text += f" (server said: {server_message})"
    return text


def _describe(target: RequestTarget) -> str:
    name = f"{target.resource}.{target.group}" if target.group else target.resource
    return f"{name} in namespace {target.namespace}" if target.namespace else name


def _parse_status(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return {"message": body[:200].decode("utf-8", errors="replace")}
    return parsed if isinstance(parsed, dict) else {}


def _has_cause(causes: object, wanted: str) -> bool:
    return isinstance(causes, list) and any(
        isinstance(c, dict) and c.get("reason") == wanted for c in causes
    )


def _retry_after(headers: Mapping[str, str] | None, details: object) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    if raw is not None:
        try:
            return max(0.0, float(raw))
        except ValueError:
            log.debug("ignoring a Retry-After that is not seconds: %r", raw)
    if isinstance(details, dict):
        seconds = details.get("retryAfterSeconds")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            return max(0.0, float(seconds))
    return None
