"""The SQL text of the SQLite backend: schema, the upsert, and queries built from validated parts.

Place in the data flow: pure string building for ``sqlite.py`` (called on whichever thread runs
the query); owns no connection and no state.

Safety rule: nothing a client sends is ever pasted into SQL. Table names come from a validated
ResourceSpec (``registry.spec.COLLECTION_RE``) and field names from ``base.FIELD_RE`` (letters,
digits, ``_`` and dots), both re-checked here before they are quoted; namespaces, search text,
label keys and values are bound parameters (a label key enters only inside a bound JSON path).

Schema per resource (one table, named after ``spec.collection``)::

    uid TEXT PRIMARY KEY, namespace TEXT ('' when cluster-scoped), name TEXT,
    resource_version TEXT, created TEXT (creationTimestamp), labels TEXT (JSON object),
    doc TEXT (the whole document as JSON),
    f_<field> GENERATED AS (doc -> '$.<field>') STORED   -- one per field the spec indexes
                                                         -- (VIRTUAL when added to a table later)

Indexes: unique (namespace, name); (name, namespace); (created, namespace, name); and one per
spec index over the columns of its fields (Pods: (namespace, f_phase), (f_nodeName, f_phase)).

``created``, ``labels`` and the generated columns are computed by SQL from the document: SQLite
evaluates them in C while the Python ``sqlite3`` module has released the GIL, so the JSON work of
a batch runs beside the informer threads instead of taking turns with them. Generated columns use
``doc -> '$.f'`` (JSON text, which keeps ``true`` apart from ``1``), and ``group_counts`` reads
them from their index, so a breakdown such as Pods by phase never parses a document.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from informer_mirror.backends.base import FIELD_RE, FieldComparison, SortKey
from informer_mirror.errors import QueryError
from informer_mirror.selectors import LabelRequirement

_TABLE_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")

META_TABLE = "_informer_mirror"
"""Key/value bookkeeping of the file: schema version and the cluster it mirrors."""
SCHEMA_VERSION = "1"

COLUMNS = {"namespace": "namespace", "name": "name", "creationTimestamp": "created"}
"""Document fields that also have their own column (indexed, and cheaper than JSON)."""


def table_name(collection: str) -> str:
    """``collection`` quoted as an SQL identifier (after checking it is a safe name)."""
    if not _TABLE_RE.fullmatch(collection):
        raise ValueError(f"unsafe table name {collection!r}")
    return f'"{collection}"'


def _field(field_name: str) -> str:
    if not FIELD_RE.fullmatch(field_name):
        raise QueryError(f"field {field_name[:64]!r}: not a document field name")
    return field_name


def json_path(field_name: str) -> str:
    """The JSON path of a (dotted) document field: ``$.involvedObject.uid``."""
    return "$." + _field(field_name)


def label_path(key: str) -> str:
    """The JSON path of a label key inside the labels object; a quoted member, so dots and
    slashes in keys such as ``app.kubernetes.io/name`` are part of the name."""
    if '"' in key or "\\" in key:  # the selector parser never lets one through
        raise QueryError(f"label key {key[:64]!r}: not a label key")
    return f'$."{key}"'


@dataclass(frozen=True, slots=True)
class TableLayout:
    """How one resource's table is laid out: its name, the generated column of every field the
    spec indexes, and its indexes (name -> columns)."""

    collection: str
    generated: dict[str, str]
    """Document field -> name of the VIRTUAL column that extracts it (``doc -> '$.field'``)."""
    indexes: dict[str, tuple[str, ...]]
    """The spec's own indexes: index name -> its columns, in order."""

    def column(self, field_name: str) -> str | None:
        """The column holding ``field_name``, if it has one."""
        return COLUMNS.get(field_name) or self.generated.get(field_name)

    def index_for(self, column: str, *, in_namespace: bool) -> str | None:
        """An index that can answer a GROUP BY ``column`` alone: one that starts with it, else
        one that holds it; with ``in_namespace``, one that starts with namespace and holds it."""
        if in_namespace:
            candidates = [n for n, c in self.indexes.items() if c[0] == "namespace" and column in c]
        else:
            candidates = [n for n, c in self.indexes.items() if c[0] == column]
            candidates += [n for n, c in self.indexes.items() if column in c]
        return candidates[0] if candidates else None


def table_layout(collection: str, indexes: Sequence[tuple[str, ...]]) -> TableLayout:
    """The layout of a resource whose spec asks for ``indexes``."""
    generated: dict[str, str] = {}
    named: dict[str, tuple[str, ...]] = {}
    for fields in indexes:
        columns: list[str] = []
        for f in fields:
            column = COLUMNS.get(_field(f))
            if column is None:
                column = generated.setdefault(f, "f_" + f.replace(".", "__"))
            columns.append(column)
        named[f"{collection}__ix__" + "__".join(columns)] = tuple(columns)
    return TableLayout(collection=collection, generated=generated, indexes=named)


def schema_statements(layout: TableLayout, existing: set[str]) -> list[str]:
    """``CREATE``/``ALTER`` statements that bring a table to ``layout``; ``existing`` is the set
    of its columns now (empty when the table does not exist yet). Idempotent."""
    collection = layout.collection
    t = table_name(collection)
    # A new table gets its generated columns STORED: an update then reads the old values from
    # the row instead of parsing the old document again for each index. Measured on 10k Pods,
    # random updates alone on one thread: 32 -> 26.5 us per row. ALTER TABLE can only add
    # VIRTUAL ones, so a field indexed later is VIRTUAL (the same to every query).
    stored = (
        ""
        if existing
        else "".join(
            f", \"{column}\" GENERATED ALWAYS AS (doc -> '{json_path(field_name)}') STORED"
            for field_name, column in layout.generated.items()
        )
    )
    statements = [
        f"CREATE TABLE IF NOT EXISTS {t} ("
        "uid TEXT PRIMARY KEY NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, "
        "resource_version TEXT NOT NULL, created TEXT, labels TEXT NOT NULL, doc TEXT NOT NULL"
        f"{stored})",
        # unique: a new uid under a known key (deleted and recreated) replaces the old row
        f'CREATE UNIQUE INDEX IF NOT EXISTS "{collection}__namespace_name" '
        f"ON {t} (namespace, name)",
        f'CREATE INDEX IF NOT EXISTS "{collection}__name" ON {t} (name, namespace)',
        f'CREATE INDEX IF NOT EXISTS "{collection}__created" ON {t} (created, namespace, name)',
    ]
    # The indexes over generated columns hold their values, so a breakdown reads an index,
    # never the documents.
    for field_name, column in layout.generated.items():
        if existing and column not in existing:
            statements.append(
                f'ALTER TABLE {t} ADD COLUMN "{column}" '
                f"GENERATED ALWAYS AS (doc -> '{json_path(field_name)}') VIRTUAL"
            )
    for name, columns in layout.indexes.items():
        quoted = ", ".join(f'"{c}"' for c in columns)
        statements.append(f'CREATE INDEX IF NOT EXISTS "{name}" ON {t} ({quoted})')
    return statements


_UPSERT_CONFLICTS = (
    "ON CONFLICT (uid) DO UPDATE SET resource_version = excluded.resource_version, "
    "labels = excluded.labels, doc = excluded.doc "
    "ON CONFLICT (namespace, name) DO UPDATE SET uid = excluded.uid, "
    "resource_version = excluded.resource_version, created = excluded.created, "
    "labels = excluded.labels, doc = excluded.doc"
)


UPSERT_ROWS = (512, 256, 128, 64, 32, 16, 8, 4, 2, 1)
"""Rows per upsert statement: a batch is written as full statements of the largest size that
fits, then smaller ones, so a table needs at most these ten statement texts (each compiled once
and kept in the connection's statement cache); a batch of 5,000 rows (the default
``writer.batch_size``) takes 12 statements, and none of up to 5,000 more than 17 (2,000 rows: 7,
and none of up to 2,000 more than 11).

Why up to 512 (it was 128, 17 statements for 2,000 rows): the writer gives the GIL up for each
statement and waits for it after each, while the reflector thread holds it. Measured, a
100k-Pod initial sync on disk, six alternating fresh processes each: 20.9k -> 22.0k objects/s
(medians). The cost is memory: the compiled statements sit in the writer connection's statement
cache, ~7 MB more than with 128 rows (resident memory after a 100k-Pod sync, two runs each: 1.19
and 1.23 -> 1.26 and 1.30 KiB per Pod). A statement binds five parameters per row, so an SQLite
built with a lower limit on them than today's 32,766 (999 before 3.32) gets smaller statements
(:func:`upsert_chunks`)."""

UPSERT_PARAMS = 5
"""Parameters bound per row of an upsert (:func:`upsert_sql`)."""


@functools.lru_cache(maxsize=512)  # a statement of 512 rows is 71 KB of text to build
def upsert_sql(collection: str, rows: int = 1) -> str:
    """Upsert of ``rows`` rows, each from five parameters ``uid, namespace, name,
    resource_version, doc`` (row ``k`` binds ``?5k+1`` to ``?5k+5``).

    A known uid is updated in place, and so is a row holding the same (namespace, name) under
    another uid (the object was deleted and recreated: it takes over the row, so no predecessor
    is left behind). An update rewrites only what can change (resourceVersion, labels,
    document): the indexes over namespace, name and creation time stay untouched. Measured
    against ``INSERT OR REPLACE`` (delete the row and its index entries, insert anew) on Pods:
    updates 42k -> 63k rows/s at 10k rows, 24k -> 55k at 100k.

    Why many rows in one statement: ``executemany`` steps once per row, and the ``sqlite3``
    module gives up the GIL for each step and must win it back from the informer threads before
    the next one; during a burst of watch events the writer then got the GIL back once per row
    and fell behind. A statement of many rows gives it up once for all of them. It replaced one
    statement over a JSON array of the batch (``json_each``), which made SQLite parse every row
    twice more: per Pod, alone on one thread, inserts 31 -> 19 us and random updates 54 -> 41 us.

    The document is bound as the writer's bytes (a BLOB) and made TEXT by ``CAST`` (SQLite's JSON
    functions refuse BLOBs before 3.45): Python neither decodes it nor holds a decoded copy of the
    batch (``SqliteBackend.apply`` checks that a document that is not ASCII is UTF-8).
    """
    values = ",".join(
        f"(?{k + 1},?{k + 2},?{k + 3},?{k + 4},CAST(?{k + 5} AS TEXT) ->> '$.creationTimestamp',"
        f"coalesce(CAST(?{k + 5} AS TEXT) -> '$.labels','{{}}'),CAST(?{k + 5} AS TEXT))"
        for k in range(0, 5 * rows, 5)
    )
    return (
        f"INSERT INTO {table_name(collection)} "  # noqa: S608 - see module doc
        f"(uid, namespace, name, resource_version, created, labels, doc) VALUES {values} "
        + _UPSERT_CONFLICTS
    )


def upsert_chunks(count: int, *, max_params: int = 32766) -> list[tuple[int, int]]:
    """``(start, rows)`` of each statement that writes ``count`` rows (see :data:`UPSERT_ROWS`),
    none binding more than ``max_params`` parameters (the connection's
    ``SQLITE_LIMIT_VARIABLE_NUMBER``)."""
    chunks: list[tuple[int, int]] = []
    start = 0
    for size in UPSERT_ROWS:
        if size * UPSERT_PARAMS > max_params and size > 1:
            continue
        while count - start >= size:
            chunks.append((start, size))
            start += size
    return chunks


# Every f-string below pastes only a table name that passed table_name() and expressions built
# by this module from validated field names; values are "?" parameters (see the module doc).


def delete_by_uid_sql(collection: str) -> str:
    """DELETE of one uid."""
    return f"DELETE FROM {table_name(collection)} WHERE uid = ?"  # noqa: S608


def delete_by_key_sql(collection: str) -> str:
    """DELETE of one (namespace, name)."""
    return f"DELETE FROM {table_name(collection)} WHERE namespace = ? AND name = ?"  # noqa: S608


def versions_sql(collection: str) -> str:
    """SELECT of every (uid, resource_version)."""
    return f"SELECT uid, resource_version FROM {table_name(collection)}"  # noqa: S608


def get_sql(collection: str) -> str:
    """SELECT of one document by uid."""
    return f"SELECT doc FROM {table_name(collection)} WHERE uid = ?"  # noqa: S608


def count_sql(collection: str, *, in_namespace: bool) -> str:
    """SELECT count(*), in one namespace (one parameter) or in all."""
    where = "WHERE namespace = ?" if in_namespace else ""
    return f"SELECT count(*) FROM {table_name(collection)} {where}"  # noqa: S608


def group_sql(layout: TableLayout, field: str | FieldComparison, *, in_namespace: bool) -> str:
    """SELECT of (value, count) groups of a field or comparison, in one namespace or in all.

    The planner does not see on its own that an index holding a generated column answers the
    GROUP BY without reading a document (measured: 23 ms against 150-390 ms at 100k rows), so
    the index is named with INDEXED BY.
    """
    where = "WHERE namespace = ?" if in_namespace else ""
    hint = ""
    if isinstance(field, FieldComparison):
        expr = comparison_expr(field)
    else:
        expr = group_expr(layout, field)
        column = layout.column(field)
        index = layout.index_for(column, in_namespace=in_namespace) if column else None
        if index is not None:
            hint = f'INDEXED BY "{index}"'
    t = table_name(layout.collection)
    return f"SELECT {expr}, count(*) FROM {t} {hint} {where} GROUP BY 1"  # noqa: S608


def total_sql(collection: str, where: Where) -> str:
    """SELECT count(*) of a list query (parameters: ``where.params``)."""
    return f"SELECT count(*) FROM {table_name(collection)} {where.sql}"  # noqa: S608


def page_sql(collection: str, where: Where, order: str) -> str:
    """SELECT of one page (parameters: where, order, then LIMIT and OFFSET)."""
    t = table_name(collection)
    return f"SELECT doc FROM {t} {where.sql} ORDER BY {order} LIMIT ? OFFSET ?"  # noqa: S608


META_CREATE = f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
META_SEED = f"INSERT OR IGNORE INTO {META_TABLE} VALUES ('schema', ?), ('cluster', ?)"  # noqa: S608
META_READ = f"SELECT key, value FROM {META_TABLE}"  # noqa: S608


def group_expr(layout: TableLayout, field_name: str) -> str:
    """The SQL expression a field is grouped by: its column, or its JSON text (``->`` keeps
    ``true`` apart from ``1`` and ``"1"``)."""
    column = layout.column(field_name)
    if column is not None:
        return f'"{column}"'
    return f"(doc -> '{json_path(field_name)}')"


def comparison_expr(comparison: FieldComparison) -> str:
    """SQL for a FieldComparison: 1, 0, or NULL when either side is missing or null."""
    left = f"json_extract(doc, '{json_path(comparison.left)}')"
    right = f"json_extract(doc, '{json_path(comparison.right)}')"
    op = "=" if comparison.op == "==" else comparison.op
    return f"CASE WHEN {left} IS NULL OR {right} IS NULL THEN NULL ELSE ({left} {op} {right}) END"


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` literally anywhere (escape character ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(slots=True)
class Where:
    """A WHERE clause under construction: SQL fragments and their parameters, in order."""

    clauses: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)

    def add(self, clause: str, *params: object) -> None:
        """AND one more condition."""
        self.clauses.append(clause)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        """``WHERE ...`` or ``""``."""
        return f"WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


def _label_clause(where: Where, req: LabelRequirement) -> None:
    path = label_path(req.key)
    value = "json_extract(labels, ?)"
    marks = ", ".join("?" * len(req.values))
    if req.op in ("=", "in"):
        where.add(f"{value} IN ({marks})", path, *req.values)
    elif req.op in ("!=", "notin"):
        # true when the label is absent, as in Kubernetes
        where.add(f"coalesce({value} NOT IN ({marks}), 1)", path, *req.values)
    elif req.op == "exists":
        where.add("json_type(labels, ?) IS NOT NULL", path)
    elif req.op == "!":
        where.add("json_type(labels, ?) IS NULL", path)
    elif req.op in (">", "<"):
        # only labels whose value is a non-negative integer take part (label values cannot
        # start with '-'); Kubernetes compares them as integers
        where.add(
            f"coalesce({value} <> '' AND {value} NOT GLOB '*[^0-9]*' "
            f"AND CAST({value} AS INTEGER) {req.op} ?, 0)",
            path,
            path,
            path,
            int(req.values[0]),
        )
    else:
        raise QueryError(f"label selector: unsupported operator {req.op!r}")


def build_where(
    *,
    namespace: str | None,
    search: str | None,
    requirements: Sequence[LabelRequirement],
) -> Where:
    """The WHERE clause of a list query."""
    where = Where()
    if namespace is not None:
        where.add("namespace = ?", namespace)
    if search:
        # LIKE is case-insensitive for ASCII, which is what object names are made of
        where.add("name LIKE ? ESCAPE '\\'", like_pattern(search))
    for req in requirements:
        _label_clause(where, req)
    return where


def order_by(sort: SortKey) -> tuple[str, list[object]]:
    """``ORDER BY`` text and its parameters: the sort field, then namespace and name."""
    direction = "DESC" if sort.descending else "ASC"
    column = COLUMNS.get(sort.field)
    if sort.field == "namespace":
        return f"namespace {direction}, name {direction}", []
    if sort.field == "name":
        return f"name {direction}, namespace {direction}", []
    if column is not None:
        return f"{column} {direction}, namespace {direction}, name {direction}", []
    return (
        f"json_extract(doc, ?) {direction}, namespace {direction}, name {direction}",
        [json_path(sort.field)],
    )


def columns_sql(collection: str) -> str:
    """PRAGMA listing a table's columns, generated ones included (none if it does not exist)."""
    return f"PRAGMA table_xinfo({table_name(collection)})"
