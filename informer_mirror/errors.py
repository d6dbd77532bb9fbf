"""The one exception root of informer-mirror and its tree.

Library errors (urllib3, kubernetes, pymongo, sqlite3, yaml) are translated into these at the
boundary that calls the library (``raise X(...) from e``); nothing above that boundary catches a
library's own exception type.

::

    InformerMirrorError
    ├── ConfigError                    bad configuration; the message starts with the field path
    ├── StartupError                   the daemon cannot start (kubeconfig, backend, port): exit 1
    ├── KubeError                      talking to the Kubernetes API (kube/ raises these)
    │   ├── KubeConnectionError        refused / reset / DNS: retry the watch from the same RV
    │   ├── KubeTimeoutError           read timeout on a stream: a clean re-watch, not a failure
    │   ├── KubeDecodeError            malformed JSON or a payload of the wrong shape
    │   └── KubeApiError               the server answered with a non-2xx Status (has .status)
    │       ├── KubeExpiredError       410 Expired/Gone: relist
    │       ├── KubeTooManyRequests    429 (has .retry_after): back off, re-watch from the same RV
    │       ├── KubeUnauthorized       401
    │       ├── KubeForbidden          403: the message names the resource and the missing verb
    │       ├── KubeNotFound           404: the resource type is not served
    │       └── KubeServerError        5xx
    │           └── KubeResourceVersionTooLarge  504, cause ResourceVersionTooLarge: list at ""
    ├── QueryError                     a list query that cannot be answered as asked (the API: 400)
    │   └── SelectorError              a label selector that does not parse (selectors.py)
    └── BackendError                   the database behind the mirror
        ├── TransientBackendError      retry with backoff (connection lost, timeouts, locked)
        └── PermanentBackendError      report, skip the document, count it (too large, unencodable)
"""

from __future__ import annotations


class InformerMirrorError(Exception):
    """Root of every error informer-mirror raises on purpose."""


class ConfigError(InformerMirrorError):
    """Invalid configuration. The message starts with the dotted field path, e.g.
    ``backend.kind: must be one of mongo, sqlite (got 'postgres')``."""


class StartupError(InformerMirrorError):
    """The daemon cannot start although its configuration is valid: the kubeconfig is missing or
    unreadable, the backend stayed unreachable through the start-up retries, the API port is
    taken. ``informer-mirror run`` exits 1, not 2: the cause may go away, so systemd restarts."""


class KubeError(InformerMirrorError):
    """Any failure talking to the Kubernetes API."""


class KubeConnectionError(KubeError):
    """The connection could not be made or was reset (no HTTP status)."""


class KubeTimeoutError(KubeError):
    """A read timed out; on a watch stream this means "re-watch", not "failed"."""


class KubeDecodeError(KubeError):
    """The server sent bytes that are not the JSON we expect."""


class KubeApiError(KubeError):
    """The API server answered with an error Status.

    ``status`` is the HTTP code, ``reason`` the Status reason (``Expired``, ``Forbidden``...).
    """

    def __init__(self, message: str, *, status: int, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class KubeExpiredError(KubeApiError):
    """410: the resourceVersion or continue token is older than the server's history."""


class KubeTooManyRequests(KubeApiError):
    """429: throttled. ``retry_after`` is the server's Retry-After in seconds, if it sent one."""

    def __init__(
        self, message: str, *, status: int = 429, reason: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status, reason=reason)
        self.retry_after = retry_after


class KubeUnauthorized(KubeApiError):
    """401: the credentials were not accepted."""


class KubeForbidden(KubeApiError):
    """403: the credentials may not perform this verb on this resource."""


class KubeNotFound(KubeApiError):
    """404: the object, or the whole resource type, does not exist on this server."""


class KubeServerError(KubeApiError):
    """5xx from the API server."""


class KubeResourceVersionTooLarge(KubeServerError):
    """504 whose Status cause is ``ResourceVersionTooLarge``: the server has not seen that RV yet
    (e.g. after an etcd restore). Like an expiry, the reflector then lists with ``RV=""``."""


class QueryError(InformerMirrorError):
    """A query of the mirror that cannot be answered as asked: a label selector that does not
    parse, an unknown sort field, a page or limit below 1. The caller's fault, so the REST API
    answers 400 with this message; retrying the same query fails the same way."""


class SelectorError(QueryError):
    """A label or field selector that does not parse, or names a field the kind does not support
    (the simulated API server answers 400 with it, like the real one)."""


class BackendError(InformerMirrorError):
    """Any failure of the mirror's database."""


class TransientBackendError(BackendError):
    """Worth retrying: the database is unreachable, busy or timed out."""


class PermanentBackendError(BackendError):
    """Retrying will not help: the document is too large, unencodable or rejected."""
