"""Secret redaction: what of a confidential object may reach the Store, the backend and the logs.

Place in the data flow: called from ``ResourceSpec.to_document`` on the reflector thread, before a
document exists, so a Secret value never reaches the Store, the WorkQueue, the backend, a log line
or an error message (informer-semantics.md pitfall 12). Pure functions; owns no state.

What is kept of a Secret: its ``type``, ``immutable``, the keys of ``data`` and ``stringData`` and
each value's size in bytes. Never a value. Annotations of a Secret keep their keys but their values
become ``<redacted: N bytes>`` (a Secret's annotations are free text its author controls), except
the two the service-account token controller writes (:data:`SECRET_SAFE_ANNOTATIONS`). On every
kind, deny-listed annotations are dropped entirely: by default
``kubectl.kubernetes.io/last-applied-configuration``, which embeds the whole manifest (for a
Secret applied with kubectl, its data) (kubernetes#23564).

Nothing here looks inside a value, decodes it or puts it in an exception message: sizes are
computed arithmetically from the base64 text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
"""The annotation ``kubectl apply`` leaves: the applied manifest, Secret data included."""

SECRET_SAFE_ANNOTATIONS: frozenset[str] = frozenset(
    {"kubernetes.io/service-account.name", "kubernetes.io/service-account.uid"}
)
"""Secret annotations kept verbatim: set by the token controller, they name the owning
ServiceAccount, and operators query them."""

MAPPINGS = (dict, Mapping)
"""``isinstance`` classes for "a JSON object": decoded JSON is a ``dict``, which this checks
first and fast; ``Mapping`` alone costs an ABC lookup per call (a tenth of a Pod's transform)."""

_RAW_SECRET_KEYS = ("apiVersion", "kind", "type", "immutable")
"""Top-level keys of a Secret copied verbatim into ``raw``; ``data``/``stringData`` are redacted
and anything else (unknown fields) is dropped rather than trusted."""


def redacted(size: int) -> str:
    """The placeholder stored instead of a confidential value."""
    return f"<redacted: {size} bytes>"


def text_size(value: Any) -> int:
    """UTF-8 size of a string (``stringData`` values, annotations); 0 for anything else."""
    return len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else 0


def base64_size(value: Any) -> int:
    """Decoded size of a base64 ``data`` value, computed from its length without decoding it
    (so malformed base64 cannot raise an error that quotes the value)."""
    if not isinstance(value, str):
        return 0
    text = value.rstrip("=")
    return len(text) * 3 // 4


def redact_annotations(value: Any, *, deny: frozenset[str], redact: bool) -> dict[str, str]:
    """A copy of the string annotations in ``value`` without the ``deny`` keys; with ``redact``
    every value except :data:`SECRET_SAFE_ANNOTATIONS` becomes :func:`redacted`."""
    if not isinstance(value, MAPPINGS):
        return {}
    out: dict[str, str] = {}
    for key, text in value.items():
        if not isinstance(key, str) or key in deny or not isinstance(text, str):
            continue
        out[key] = (
            redacted(text_size(text)) if redact and key not in SECRET_SAFE_ANNOTATIONS else text
        )
    return out


def secret_sizes(obj: Any) -> dict[str, int]:
    """``{key: size in bytes}`` over ``data`` (base64) and ``stringData`` (plain text)."""
    sizes: dict[str, int] = {}
    if not isinstance(obj, MAPPINGS):
        return sizes
    data, string_data = obj.get("data"), obj.get("stringData")
    if isinstance(data, MAPPINGS):
        sizes.update({k: base64_size(v) for k, v in data.items() if isinstance(k, str)})
    if isinstance(string_data, MAPPINGS):
        # stringData wins on the server too: it is merged over data on write
        sizes.update({k: text_size(v) for k, v in string_data.items() if isinstance(k, str)})
    return sizes


def secret_fields(obj: Any, _options: object) -> dict[str, Any]:
    """The Secret transformer: type, immutability, keys and value sizes; never a value."""
    sizes = secret_sizes(obj)
    type_, immutable = (
        (obj.get("type"), obj.get("immutable")) if isinstance(obj, MAPPINGS) else (None, None)
    )
    return {
        "type": type_ if isinstance(type_, str) else None,
        "immutable": immutable if isinstance(immutable, bool) else None,
        "keys": sorted(sizes),
        "sizes": sizes,
    }


def raw_view(obj: Any, *, deny: frozenset[str], redact: bool) -> dict[str, Any]:
    """The object as stored under ``raw`` when a spec keeps it.

    ``metadata.managedFields`` is stripped (large and useless to a reader) and deny-listed
    annotations dropped. With ``redact`` (Secrets) only known top-level keys survive and the
    values of ``data``/``stringData`` become :func:`redacted` placeholders.

    Only ``metadata`` and the redacted maps are copies: other subtrees are shared with ``obj``,
    which the caller (the reflector) hands over and never touches again.
    """
    if not isinstance(obj, MAPPINGS):
        return {}
    meta = obj.get("metadata")
    new_meta: dict[str, Any] = {}
    if isinstance(meta, MAPPINGS):
        new_meta = {k: v for k, v in meta.items() if k not in ("managedFields", "annotations")}
        if "annotations" in meta:
            new_meta["annotations"] = redact_annotations(
                meta["annotations"], deny=deny, redact=redact
            )
    if not redact:
        out = dict(obj)
        out["metadata"] = new_meta
        return out
    out = {k: obj[k] for k in _RAW_SECRET_KEYS if k in obj}
    out["metadata"] = new_meta
    data, string_data = obj.get("data"), obj.get("stringData")
    if isinstance(data, MAPPINGS):
        out["data"] = {k: redacted(base64_size(v)) for k, v in data.items() if isinstance(k, str)}
    if isinstance(string_data, MAPPINGS):
        out["stringData"] = {
            k: redacted(text_size(v)) for k, v in string_data.items() if isinstance(k, str)
        }
    return out
