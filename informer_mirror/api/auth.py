"""Optional bearer-token authentication of the API (``api.token_file``).

Place in the data flow: the first step of every request, a Flask ``before_request`` hook running on
the waitress worker thread that serves it. The token itself was read from its file when the
settings were loaded (a bad file stops the start, not the first request); this module only
compares. The comparison is constant-time (``hmac.compare_digest`` over bytes), so response
timing does not reveal how much of a guess was right.

Open without a token: ``/healthz`` and ``/readyz`` (a probe or systemd must not need a secret),
and ``/metrics`` unless ``api.metrics_require_token``. Everything else, ``/api/v1/openapi.json``
included, needs ``Authorization: Bearer <token>`` when a token is configured.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection

from flask import request

from informer_mirror.api.errors import ApiError

REALM = "informer-mirror"

Hook = Callable[[], None]


def _presented_token(header: str | None) -> bytes | None:
    if not header:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    text = credentials.strip()
    try:
        # WSGI hands headers over as latin-1 text: this recovers the bytes the client sent
        return text.encode("latin-1")
    except UnicodeEncodeError:  # not from a WSGI server; compare its UTF-8 form
        return text.encode("utf-8", "surrogatepass")


def token_matches(expected: str, header: str | None) -> bool:
    """True when ``header`` (an Authorization value) carries exactly ``expected``."""
    presented = _presented_token(header)
    if presented is None:
        return False
    return hmac.compare_digest(presented, expected.encode("utf-8"))


def bearer_auth(token: str | None, *, open_paths: Collection[str]) -> Hook | None:
    """A ``before_request`` hook demanding ``token`` on every path not in ``open_paths``;
    None when no token is configured (then the API is open, bound to 127.0.0.1 by default)."""
    if token is None:
        return None
    expected = token

    def check() -> None:
        if (request.path.rstrip("/") or "/") in open_paths:  # /healthz/ is /healthz
            return
        header = request.headers.get("Authorization")
        if token_matches(expected, header):
            return
        challenge = f'Bearer realm="{REALM}"'
        if header is None:
            problem = "missing bearer token"
        else:
            problem = "invalid bearer token"
            challenge += ', error="invalid_token"'  # RFC 6750 section 3.1
        raise ApiError(
            401,
            f"{problem}: send 'Authorization: Bearer <token>' (api.token_file)",
            headers={"WWW-Authenticate": challenge},
        )

    return check
