"""The Backend protocol: what the writer and the REST API ask of the database behind the mirror.

Place in the data flow: the last box. BatchWriter threads (``writer-N``) call :meth:`Backend.apply`
(one bulk round trip per resource per batch) and, at start-up, :meth:`Backend.ensure_schema` and
:meth:`Backend.versions`; API worker threads call :meth:`Backend.query`, :meth:`Backend.get`,
:meth:`Backend.counts` and :meth:`Backend.group_counts`; the health monitor calls
:meth:`Backend.ping`. Every method may be called from any thread. Implementations: ``sqlite.py``
(the embedded default) and ``mongo.py``.

This module owns the value types crossing that boundary (:class:`Upsert`, :class:`Delete`,
:class:`ApplyResult`, :class:`QueryResult`, :class:`GroupCount`, :class:`FieldComparison`) and the
validation shared by both backends (:func:`parse_sort`, :func:`check_page`, field names).

Error contract: a backend raises only ``errors.BackendError`` subclasses and ``errors.QueryError``:

* ``TransientBackendError``: nothing or part of the call happened; repeating the same call is safe
  (every write is idempotent: upserts replace whole documents keyed by uid, deletes of what is not
  there are no-ops) and may succeed later;
* ``PermanentBackendError`` from ``apply``: the call as a whole cannot succeed (the writer then
  applies the documents one by one to find the poisoned ones). A single bad document is *not* an
  exception: ``apply`` skips it, lands the rest, and reports it in ``ApplyResult.failed``;
* ``QueryError``: the query itself is wrong (bad label selector, sort field, page).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

from informer_mirror.errors import QueryError
from informer_mirror.registry import ResourceSpec
from informer_mirror.selectors import LabelRequirement, parse_label_selector

JsonScalar = str | int | float | bool | None
"""A JSON value that is not an object or array (a group of :meth:`Backend.group_counts`)."""

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
"""Largest document either backend stores (MongoDB's BSON limit, 16 MiB); larger ones are skipped
and reported, so both backends treat the same document the same way."""


FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
"""A document field a query may name: top-level or dotted into sub-documents. Nothing else ever
reaches a SQL text or a MongoDB field path."""

FailureReason = Literal["too_large", "unencodable", "rejected"]
"""Why one document was skipped: bounded words, used as metric label values."""


@dataclass(frozen=True, slots=True)
class Upsert:
    """Store ``document`` as the object ``uid``, replacing any document of that uid or key."""

    uid: str
    """``metadata.uid``: the primary key (MongoDB ``_id``)."""
    namespace: str
    """``""`` for cluster-scoped objects."""
    name: str
    resource_version: str
    """``metadata.resourceVersion``, also inside the document."""
    document: bytes
    """The whole document as JSON (UTF-8), ``_mirror`` included, as the writer built it."""

    @property
    def key(self) -> str:
        """``namespace/name`` (or ``name``), the Store's key."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove one object's document: by ``uid`` when given, else by key (namespace, name)."""

    namespace: str = ""
    name: str = ""
    uid: str | None = None
    """Delete this uid whatever its key (start-up reconciliation knows uids, not keys)."""

    @classmethod
    def by_key(cls, key: str) -> Delete:
        """The delete of a Store key, ``namespace/name`` or ``name``."""
        namespace, _, name = key.rpartition("/")
        return cls(namespace=namespace, name=name)

    @classmethod
    def by_uid(cls, uid: str) -> Delete:
        """The delete of one uid."""
        return cls(uid=uid)

    @property
    def key(self) -> str:
        """``namespace/name``, ``name``, or ``uid:<uid>`` for a delete by uid."""
        if self.uid is not None:
            return f"uid:{self.uid}"
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True, slots=True)
class FailedWrite:
    """A document ``apply`` skipped because storing it can never succeed."""

    uid: str
    key: str
    reason: FailureReason
    message: str
    """What the database or the encoder said, for the log (no document content)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyResult:
    """What one ``apply`` did."""

    upserted: int = 0
    """Documents stored (inserted or replaced)."""
    deleted: int = 0
    """Documents that existed and were removed (a delete of a missing document counts 0)."""
    failed: tuple[FailedWrite, ...] = ()
    """Upserts skipped as permanently unstorable; everything else landed."""


class QueryResult(NamedTuple):
    """One page of a list query, and how many documents match in all."""

    items: list[dict[str, Any]]
    total: int


class GroupCount(NamedTuple):
    """One group of :meth:`Backend.group_counts`: a field value and how many documents have it."""

    value: JsonScalar
    """``None`` for documents without the field (or with null)."""
    documents: int


ComparisonOp = Literal["==", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True, slots=True)
class FieldComparison:
    """A derived boolean to group by: ``left <op> right`` on two numeric document fields.

    "Deployments fully available" is ``FieldComparison("availableReplicas", ">=", "replicas")``.
    The group value is ``None`` when either field is missing or null.
    """

    left: str
    op: ComparisonOp
    right: str

    def __post_init__(self) -> None:
        check_field(self.left)
        check_field(self.right)
        if self.op not in ("==", "!=", "<", "<=", ">", ">="):
            raise QueryError(f"comparison: unknown operator {self.op!r}")


@dataclass(frozen=True, slots=True)
class SortKey:
    """A validated sort request: a document field and a direction."""

    field: str
    descending: bool = False


DEFAULT_SORT = SortKey("namespace")
"""Namespace, then name: the order of the (namespace, name) index both backends have."""


def check_field(field: str) -> str:
    """``field`` if it is a safe document field name (see :data:`FIELD_RE`), else QueryError."""
    if len(field) > 200 or not FIELD_RE.fullmatch(field):
        raise QueryError(
            f"field {field[:64]!r}: must be letters, digits and '_', dotted into sub-documents"
        )
    return field


def parse_sort(sort: str | None) -> SortKey:
    """``"name"``, ``"-creationTimestamp"``, any document field; ``None``/``""``: the default.

    Ties are always broken by namespace, then name, so pages never overlap or skip.
    """
    if not sort:
        return DEFAULT_SORT
    descending = sort.startswith("-")
    return SortKey(check_field(sort[1:] if descending else sort), descending)


def check_page(page: int, limit: int) -> None:
    """QueryError unless ``page >= 1`` and ``limit >= 1``."""
    if page < 1:
        raise QueryError(f"page: must be >= 1 (got {page})")
    if limit < 1:
        raise QueryError(f"limit: must be >= 1 (got {limit})")


def label_requirements(
    selector: str | Sequence[LabelRequirement] | None,
) -> tuple[LabelRequirement, ...]:
    """The requirements of a label selector given as text (parsed here; SelectorError, a
    QueryError, when it does not parse) or already parsed; ``()`` selects everything."""
    if selector is None:
        return ()
    if isinstance(selector, str):
        return parse_label_selector(selector)
    return tuple(selector)


class Backend(Protocol):
    """The database behind the mirror: one collection/table per resource, ``_id``/PK = uid."""

    @property
    def kind(self) -> str:
        """``sqlite`` or ``mongo``."""

    def describe(self) -> str:
        """Where the data lives, safe to log (file path, or the URI with the password masked)."""

    def ensure_schema(self, spec: ResourceSpec) -> None:
        """Create the resource's collection/table and its indexes if missing (idempotent)."""

    def apply(
        self, spec: ResourceSpec, upserts: Sequence[Upsert], deletes: Sequence[Delete]
    ) -> ApplyResult:
        """Write one batch of one resource in one bulk round trip (one transaction in SQLite).

        At most one operation per key (the writer coalesces). An upsert replaces the document of
        its uid and also any other document under its key (the object was deleted and recreated:
        a new uid). Unstorable documents are skipped and listed in the result.
        """

    def versions(self, spec: ResourceSpec) -> dict[str, str]:
        """``{uid: resourceVersion}`` of every stored document of the resource."""

    def query(
        self,
        spec: ResourceSpec,
        *,
        namespace: str | None = None,
        search: str | None = None,
        label_selector: str | Sequence[LabelRequirement] | None = None,
        page: int = 1,
        limit: int = 10,
        sort: str | None = None,
    ) -> QueryResult:
        """One page of documents matching every filter given, and the total that match.

        ``search`` is a case-insensitive substring of the name, matched literally. ``sort`` is a
        document field, ``-`` in front for descending (:func:`parse_sort`); pages are stable.
        """

    def get(self, spec: ResourceSpec, uid: str) -> dict[str, Any] | None:
        """The document of ``uid``, or None."""

    def count(self, spec: ResourceSpec, *, namespace: str | None = None) -> int:
        """How many documents the resource has (in ``namespace`` if given)."""

    def counts(self) -> dict[str, int]:
        """``{resource name: documents}`` for every resource whose schema was ensured."""

    def group_counts(
        self,
        spec: ResourceSpec,
        field: str | FieldComparison,
        *,
        namespace: str | None = None,
    ) -> list[GroupCount]:
        """Documents per value of ``field`` (or of a comparison), most frequent first.

        Pods by phase is ``group_counts(pods, "phase")``, Nodes ready or not ``(nodes,
        "ready")``, Deployments fully available ``(deployments, FieldComparison(...))``.
        """

    def ping(self) -> None:
        """Raise TransientBackendError unless the database answers now."""

    def close(self) -> None:
        """Release connections; later calls raise PermanentBackendError. Idempotent."""


def sorted_groups(groups: Iterable[tuple[JsonScalar, int]]) -> list[GroupCount]:
    """``GroupCount``s of ``(value, count)`` pairs, most frequent first, ties in a fixed order.

    A list, not a dict: ``True`` and ``1`` are equal dict keys, and a field may hold both.
    """
    return sorted(
        (GroupCount(value, count) for value, count in groups),
        key=lambda g: (-g.documents, type(g.value).__name__, repr(g.value)),
    )
