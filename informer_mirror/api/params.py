"""Query parameters of the API: their contract, and strict validation into typed values.

Place in the data flow: between routing and the backend query, on the waitress worker thread that
serves the request. Every value a client sends is checked here before anything else sees it; a bad
one is a 400 that names the parameter (:class:`~informer_mirror.api.errors.BadParameter`), never a
500. The same table (:data:`LIST_PARAMETERS`) generates the OpenAPI document, so the document and
the validation cannot drift apart.

Decisions (documented in README.rst):

* unknown parameters are rejected (400 naming them) on every ``/api/v1/`` endpoint: a typo such as
  ``labelselector`` or ``ns`` would otherwise silently return everything; a parameter given twice
  is rejected too. ``/healthz``, ``/readyz`` and ``/metrics`` ignore parameters, as probes and
  scrapers add their own;
* ``search`` and ``labelSelector`` are data: the backend binds them as values (SQL parameters, an
  escaped MongoDB regex), so ``%``, ``_``, ``.*``, ``'; DROP`` match literally;
* lengths are capped (``search`` 253, the longest object name; ``labelSelector`` 1024), control
  characters are refused, and integers are digits only (no sign, no exponent, at most 7 digits).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from informer_mirror.api.errors import BadParameter
from informer_mirror.errors import SelectorError
from informer_mirror.selectors import LabelRequirement, parse_label_selector
from informer_mirror.settings.syntax import is_dns_label

DEFAULT_LIMIT = 10
"""Items per page when ``limit`` is absent (the seed's default)."""
MAX_LIMIT = 1000
"""Largest ``limit``."""
MAX_PAGE = 1_000_000
"""Largest ``page``: keeps ``(page - 1) * limit`` far inside a 64-bit offset."""
MAX_SEARCH = 253
"""Longest ``search``: no object name is longer."""
MAX_SELECTOR = 1024
"""Longest ``labelSelector``."""
MAX_UID = 253
"""Longest ``{uid}`` path segment accepted (real uids are 36-character UUIDs)."""
NO_CONTROL_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
"""JSON Schema pattern of a text without control characters (what the validators enforce)."""
SORT_FIELDS = ("name", "namespace", "creationTimestamp")
"""Fields a list may be sorted by; ``-`` in front sorts descending."""
SORT_VALUES = tuple(v for f in SORT_FIELDS for v in (f, f"-{f}"))
"""Every accepted ``sort`` value."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Parameter:
    """One query parameter of a list endpoint: what the OpenAPI document says about it."""

    name: str
    description: str
    schema: Mapping[str, Any]
    example: str | int | None = None


LIST_PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        name="page",
        description="Page number, from 1. A page past the last one is empty.",
        schema={"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
        example=1,
    ),
    Parameter(
        name="limit",
        description=f"Items per page, at most {MAX_LIMIT}.",
        schema={"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        example=DEFAULT_LIMIT,
    ),
    Parameter(
        name="namespace",
        description="Only objects in this namespace (namespaced resources only).",
        schema={"type": "string", "maxLength": 63, "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        example="default",
    ),
    Parameter(
        name="search",
        description="Case-insensitive substring of the object name, matched literally "
        "(never a regular expression or SQL pattern).",
        schema={"type": "string", "maxLength": MAX_SEARCH, "pattern": NO_CONTROL_PATTERN},
        example="nginx",
    ),
    Parameter(
        name="labelSelector",
        description="Kubernetes label selector: k=v, k==v, k!=v, 'k in (a,b)', "
        "'k notin (a,b)', k, !k, k>1, k<1; comma-separated requirements must all hold.",
        # A pattern cannot express the grammar: the format names it (fuzzers plug in a
        # generator for it). The 1024-character cap and the grammar are enforced by the server.
        schema={"type": "string", "format": "label-selector"},
        example="app=web",
    ),
    Parameter(
        name="sort",
        description="Sort field; '-' in front for descending. Default: namespace, then name.",
        schema={"type": "string", "enum": list(SORT_VALUES)},
        example="name",
    ),
)
"""Query parameters of ``GET /api/v1/{resource}`` (the namespace routes take all but
``namespace``, which is in their path)."""

LIST_PARAMETER_NAMES = frozenset(p.name for p in LIST_PARAMETERS)
NO_PARAMETERS: frozenset[str] = frozenset()
"""What every other ``/api/v1/`` endpoint accepts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListQuery:
    """A validated list request."""

    page: int = 1
    limit: int = DEFAULT_LIMIT
    namespace: str | None = None
    search: str | None = None
    label_selector: tuple[LabelRequirement, ...] = ()
    """The parsed requirements (what the backend's parser made of the text); ``()``: none."""
    sort: str | None = None
    """One of :data:`SORT_VALUES`, or None for the backend's default order."""


def _show(value: str, cap: int = 40) -> str:
    """A value quoted for an error message, cut so a hostile one cannot flood the answer."""
    return repr(value if len(value) <= cap else value[:cap] + "...")


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds a control character (NUL, newline, DEL, C1...)."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def single_values(args: Mapping[str, Sequence[str]], allowed: frozenset[str]) -> dict[str, str]:
    """``{name: value}`` of ``args`` (name -> every value given); 400 for a name outside
    ``allowed`` or one given more than once."""
    values: dict[str, str] = {}
    for name, given in args.items():
        if name not in allowed:
            shown = ", ".join(sorted(allowed)) or "none"
            raise BadParameter(
                name if len(name) <= 64 else name[:64],
                f"unknown parameter {_show(name)}; allowed here: {shown}",
            )
        if len(given) != 1:
            raise BadParameter(name, f"given {len(given)} times; give it once")
        values[name] = given[0]
    return values


def _integer(name: str, text: str, low: int, high: int) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(high))):
        raise BadParameter(name, f"must be an integer from {low} to {high} (got {_show(text)})")
    value = int(text)
    if not low <= value <= high:
        raise BadParameter(name, f"must be an integer from {low} to {high} (got {value})")
    return value


def namespace_value(name: str, text: str) -> str:
    """A namespace name, or 400 naming ``name``."""
    if not is_dns_label(text):
        raise BadParameter(
            name,
            "must be a namespace name: lower-case letters, digits and '-', starting and "
            f"ending with a letter or digit, at most 63 characters (got {_show(text)})",
        )
    return text


def _text(name: str, text: str, cap: int) -> str | None:
    if len(text) > cap:
        raise BadParameter(name, f"must be at most {cap} characters (got {len(text)})")
    if has_control_characters(text):
        raise BadParameter(name, "must not contain control characters")
    return text or None


def parse_list_query(
    args: Mapping[str, Sequence[str]], *, namespaced: bool, path_namespace: str | None = None
) -> ListQuery:
    """Validate the query of a list request. ``path_namespace`` is the already validated
    ``{ns}`` of a namespace route (which then takes no ``namespace`` parameter)."""
    allowed = LIST_PARAMETER_NAMES
    if path_namespace is not None or not namespaced:
        allowed = allowed - {"namespace"}
    values = single_values(args, allowed)
    page = _integer("page", values["page"], 1, MAX_PAGE) if "page" in values else 1
    limit = _integer("limit", values["limit"], 1, MAX_LIMIT) if "limit" in values else DEFAULT_LIMIT
    namespace = path_namespace
    if "namespace" in values:
        namespace = namespace_value("namespace", values["namespace"])
    search = _text("search", values.get("search", ""), MAX_SEARCH)
    selector = _text("labelSelector", values.get("labelSelector", ""), MAX_SELECTOR)
    requirements: tuple[LabelRequirement, ...] = ()
    if selector is not None:
        try:  # the backends' own parser: what passes here, they can answer
            requirements = parse_label_selector(selector)
        except SelectorError as e:
            raise BadParameter("labelSelector", str(e)) from e
    sort = values.get("sort") or None
    if sort is not None and sort not in SORT_VALUES:
        raise BadParameter("sort", f"must be one of {', '.join(SORT_VALUES)} (got {_show(sort)})")
    return ListQuery(
        page=page,
        limit=limit,
        namespace=namespace,
        search=search,
        label_selector=requirements,
        sort=sort,
    )


def uid_value(text: str) -> str:
    """The ``{uid}`` path segment, or 400: at most 253 characters, no control characters."""
    if not text or len(text) > MAX_UID or has_control_characters(text):
        raise BadParameter("uid", f"must be 1 to {MAX_UID} characters without control characters")
    return text
