"""JSON for the API through orjson: Flask's JSON provider, replaced.

Place in the data flow: the last step of every JSON answer, on the waitress worker thread serving
it. A 100-item page of documents is most of a list request's CPU time with the standard library
encoder; orjson encodes it several times faster straight to bytes (see bench/api_throughput.py).
Keys keep their document order (Flask's default provider sorts them).
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from flask.json.provider import JSONProvider

OPTIONS = orjson.OPT_NON_STR_KEYS
"""Breakdown maps may be keyed by booleans (Nodes ready: true/false)."""


def _default(value: Any) -> Any:
    """What orjson cannot encode natively: sets and tuples from documents, anything else as
    text (a document must never fail to serialise after it was stored)."""
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def dumps_bytes(obj: Any) -> bytes:
    """``obj`` as UTF-8 JSON bytes."""
    return orjson.dumps(obj, default=_default, option=OPTIONS)


class OrjsonProvider(JSONProvider):
    """Flask's JSON provider over orjson."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """``obj`` as JSON text (keyword arguments are not supported and ignored)."""
        return dumps_bytes(obj).decode("utf-8")

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON text or bytes."""
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """A JSON response without the detour through ``str``."""
        obj = self._prepare_response_obj(args, kwargs)
        return Response(dumps_bytes(obj), mimetype="application/json")
