"""The embedded SQLite backend: the mirror in one durable file, no server to run.

Place in the data flow: the default end of the pipeline. BatchWriter threads call :meth:`apply`;
API worker threads call the queries; the health monitor calls :meth:`ping`. Each thread gets its
own connection (SQLite connections must not be shared between concurrent threads), created on
first use and closed by :meth:`close`. This class owns those connections and the file's
bookkeeping table.

Durability and concurrency: the file is in WAL mode, so readers never block the writer nor the
writer the readers; every ``apply`` is one ``BEGIN IMMEDIATE ... COMMIT`` transaction, so a batch
lands whole or not at all. ``synchronous=NORMAL`` (the WAL default recommendation): a crash of the
process loses nothing committed; a power cut may lose the last transactions, which start-up
reconciliation rewrites from the cluster. A list query reads its page and its total inside one
read transaction, so both describe the same snapshot.

Errors: busy/locked, I/O, disk full and cannot-open are transient; a document that is too large
or that SQLite cannot parse as JSON is skipped and reported (the rest of its batch still commits);
anything else is permanent. SQL text lives in ``sqlite_sql.py``.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from informer_mirror.backends import sqlite_sql as sql
from informer_mirror.backends.base import (
    MAX_DOCUMENT_BYTES,
    ApplyResult,
    Delete,
    FailedWrite,
    FailureReason,
    FieldComparison,
    GroupCount,
    JsonScalar,
    QueryResult,
    Upsert,
    check_field,
    check_page,
    label_requirements,
    parse_sort,
    sorted_groups,
)
from informer_mirror.errors import BackendError, PermanentBackendError, TransientBackendError
from informer_mirror.registry import ResourceSpec
from informer_mirror.selectors import LabelRequirement

logger = logging.getLogger(__name__)

MIN_SQLITE = (3, 38, 0)
"""The ``->``/``->>`` JSON operators the schema and queries use appeared in SQLite 3.38."""

# Primary result codes (https://sqlite.org/rescode.html) worth retrying: another connection holds
# a lock, memory or I/O trouble, disk full, the file cannot be opened right now.
_TRANSIENT_CODES = frozenset({5, 6, 7, 10, 13, 14, 15})
_TOOBIG = 18
_CONSTRAINT = 19

WRITER_CACHE_KIB = 8 * 1024
"""Page cache of a connection that writes (a BatchWriter thread's), in KiB; reading connections
keep SQLite's default of 2 MiB. See :data:`WAL_CHECKPOINT_PAGES`."""
WAL_CHECKPOINT_PAGES = 40_000
"""WAL pages (4 KiB each) after which the committing writer checkpoints (SQLite's default: 1000).

A batch of 500 random updates of 100k Pods dirties ~1,500 pages, so with the default every
commit checkpointed: wrote its pages into the database file again and waited for an ``fsync``.
Measured on 20k random updates of 100k Pods, alone on one thread, per row: defaults 92 us; 10,000
pages 66-69 us; with the writer's 8 MiB cache as well 58 us (16 MiB: 58, 32 MiB: 55, no
``fsync`` at all: 55; the cache is resident memory, 8 MiB takes most of the gain).

Why 40,000 (it was 10,000): on a disk, not tmpfs, each checkpoint's two ``fsync`` calls held the
writer for ~100 ms instead of ~30, eight times in a 100k-Pod initial sync, while the keys piled
up behind it. Measured on that sync, six alternating fresh processes each: 18.9k -> 19.5k
objects/s (medians), two checkpoints of 250-350 ms instead of eight. Pages written again and
again between two checkpoints are copied once. The WAL file grows to ~160 MiB (the file, not
memory: the WAL index takes ~320 KiB). Durability is unchanged: in WAL mode with
``synchronous=NORMAL`` a commit survives a crash of the process either way."""


def _primary_code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def translate(error: sqlite3.Error, what: str) -> BackendError:
    """Our error for a sqlite3 one: transient when worth retrying, else permanent."""
    message = f"sqlite: {what}: {error}"
    if _primary_code(error) in _TRANSIENT_CODES:
        return TransientBackendError(message)
    return PermanentBackendError(message)


class SqliteBackend:
    """The mirror in a SQLite file: one table per resource (see ``sqlite_sql`` for the schema)."""

    def __init__(
        self,
        path: Path,
        *,
        cluster: str,
        busy_timeout: float = 10.0,
        synchronous: str = "NORMAL",
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        """Open (creating if needed) ``path`` for cluster ``cluster``.

        Raises PermanentBackendError when SQLite is too old, the file is not a database, or it
        holds another cluster's mirror; TransientBackendError when it cannot be opened now.
        ``busy_timeout``: seconds a writer waits for another's lock before failing (transient).
        """
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise PermanentBackendError(
                f"sqlite: version {sqlite3.sqlite_version} is too old; need 3.38 or later"
            )
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous: unknown level {synchronous!r}")
        self.path = Path(path)
        self.cluster = cluster
        self.max_document_bytes = max_document_bytes
        self._busy_timeout = busy_timeout
        self._synchronous = synchronous.upper()
        self._local = threading.local()
        self._lock = threading.Lock()  # guards the two collections below, never held over I/O
        self._connections: list[sqlite3.Connection] = []
        self._specs: dict[str, ResourceSpec] = {}
        self._layouts: dict[str, sql.TableLayout] = {}
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise PermanentBackendError(f"sqlite: cannot create {self.path.parent}: {e}") from e
        self._init_file()

    @property
    def kind(self) -> str:
        """``sqlite``."""
        return "sqlite"

    def describe(self) -> str:
        """``sqlite:<path>``."""
        return f"sqlite:{self.path}"

    # -- connections ---------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if self._is_closed():
            raise PermanentBackendError(f"sqlite: {self.path}: backend is closed")
        if conn is not None:
            return conn
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # only so close() may close it from another thread
                cached_statements=512,  # upserts take up to 10 per table (sqlite_sql.UPSERT_ROWS)
            )
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA temp_store=MEMORY")
        except sqlite3.Error as e:
            raise translate(e, f"cannot open {self.path}") from e
        with self._lock:
            if self._closed:
                conn.close()
                raise PermanentBackendError(f"sqlite: {self.path}: backend is closed")
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def _writer_conn(self) -> sqlite3.Connection:
        """This thread's connection, set up for writing batches (:data:`WAL_CHECKPOINT_PAGES`)."""
        conn = self._conn()
        if not getattr(self._local, "writes", False):
            try:
                conn.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
                conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
            except sqlite3.Error as e:
                raise translate(e, f"cannot set up {self.path} for writing") from e
            self._local.writes = True
        return conn

    def _is_closed(self) -> bool:
        with self._lock:
            return self._closed

    def _init_file(self) -> None:
        conn = self._conn()
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise PermanentBackendError(f"sqlite: {self.path}: cannot use WAL (got {mode})")
        except sqlite3.Error as e:
            raise translate(e, f"cannot initialise {self.path}") from e
        with _write_transaction(conn, f"cannot initialise {self.path}"):
            conn.execute(sql.META_CREATE)
            conn.execute(sql.META_SEED, (sql.SCHEMA_VERSION, self.cluster))
            meta = dict(conn.execute(sql.META_READ).fetchall())
        if meta.get("schema") != sql.SCHEMA_VERSION:
            raise PermanentBackendError(
                f"sqlite: {self.path}: schema version {meta.get('schema')!r}, this version of "
                f"informer-mirror writes {sql.SCHEMA_VERSION!r}; move the file away to rebuild it"
            )
        if meta.get("cluster") != self.cluster:
            raise PermanentBackendError(
                f"sqlite: {self.path} mirrors cluster {meta.get('cluster')!r}, not "
                f"{self.cluster!r}: give each cluster its own file (backend.path)"
            )

    # -- schema and writes ---------------------------------------------------------------------

    def ensure_schema(self, spec: ResourceSpec) -> None:
        """Create the resource's table and indexes if missing."""
        layout = sql.table_layout(spec.collection, spec.indexes)
        conn = self._conn()
        with _write_transaction(conn, f"{spec.name}: cannot create table {spec.collection}"):
            info = conn.execute(sql.columns_sql(spec.collection)).fetchall()
            existing = {str(row[1]) for row in info}
            for statement in sql.schema_statements(layout, existing):
                conn.execute(statement)
        with self._lock:
            self._specs[spec.name] = spec
            self._layouts[spec.name] = layout

    def apply(
        self, spec: ResourceSpec, upserts: Sequence[Upsert], deletes: Sequence[Delete]
    ) -> ApplyResult:
        """Deletes, then upserts, in one transaction; unstorable documents are skipped."""
        failed: list[FailedWrite] = []
        kept: list[Upsert] = []
        params: list[str | bytes] = []  # upsert_sql's for the kept ones, row after row
        for up in upserts:
            document = up.document
            if len(document) > self.max_document_bytes:
                failed.append(_failure(up, "too_large", f"{len(document)} bytes"))
                continue
            # The document is bound as it is (bytes) and made TEXT by SQLite (upsert_sql): no
            # decoded copy, and no decoding while the writer holds the GIL. Only a document that
            # is not all ASCII (rare) is decoded, to check that SQLite gets UTF-8.
            if not document.isascii():
                try:
                    document.decode()
                except UnicodeDecodeError as e:
                    failed.append(_failure(up, "unencodable", f"not UTF-8: {e}"))
                    continue
            kept.append(up)
            params += (up.uid, up.namespace, up.name, up.resource_version, document)
        by_uid = [(d.uid,) for d in deletes if d.uid is not None]
        by_key = [(d.namespace, d.name) for d in deletes if d.uid is None]
        conn = self._writer_conn()
        table = spec.collection
        with _write_transaction(conn, f"{spec.name}: write of {len(upserts) + len(deletes)} ops"):
            deleted = 0
            if by_uid:
                deleted += conn.executemany(sql.delete_by_uid_sql(table), by_uid).rowcount
            if by_key:
                deleted += conn.executemany(sql.delete_by_key_sql(table), by_key).rowcount
            upserted = self._upsert(conn, spec, kept, params, failed)
        return ApplyResult(upserted=upserted, deleted=max(deleted, 0), failed=tuple(failed))

    def _upsert(
        self,
        conn: sqlite3.Connection,
        spec: ResourceSpec,
        kept: list[Upsert],
        params: list[str | bytes],
        failed: list[FailedWrite],
    ) -> int:
        per_row = sql.UPSERT_PARAMS
        count = len(kept)
        if not count:
            return 0
        try:
            # many rows per statement (sqlite_sql.upsert_sql says why)
            max_params = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            for start, size in sql.upsert_chunks(count, max_params=max_params):
                conn.execute(
                    sql.upsert_sql(spec.collection, size),
                    params[start * per_row : (start + size) * per_row],
                )
            return count
        except sqlite3.Error as e:
            if _primary_code(e) in _TRANSIENT_CODES:
                raise
            logger.warning(
                "%s: a batch of %d documents failed (%s); writing them one by one",
                spec.name,
                count,
                e,
            )
        # The failed statement was rolled back, the rows before it were not: writing every row
        # again is idempotent, and isolates the ones SQLite refuses.
        statement = sql.upsert_sql(spec.collection)
        written = 0
        for index, up in enumerate(kept):
            try:
                conn.execute(statement, params[index * per_row : (index + 1) * per_row])
                written += 1
            except sqlite3.Error as e:
                if _primary_code(e) in _TRANSIENT_CODES:
                    raise
                code = _primary_code(e)
                reason: FailureReason = "unencodable"  # SQLite's JSON functions refused it
                if code == _TOOBIG:
                    reason = "too_large"
                elif code == _CONSTRAINT:
                    reason = "rejected"
                failed.append(_failure(up, reason, str(e)))
        return written

    # -- reads ---------------------------------------------------------------------------------

    def versions(self, spec: ResourceSpec) -> dict[str, str]:
        """``{uid: resourceVersion}`` of every row."""
        return dict(self._read(spec, sql.versions_sql(spec.collection), ()))

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
        """One page and the total, from one snapshot (see ``Backend.query``)."""
        requirements = label_requirements(label_selector)
        check_page(page, limit)
        order, order_params = sql.order_by(parse_sort(sort))
        where = sql.build_where(namespace=namespace, search=search, requirements=requirements)
        conn = self._conn()
        try:
            conn.execute("BEGIN")
            try:
                total = conn.execute(sql.total_sql(spec.collection, where), where.params)
                count = int(total.fetchone()[0])
                rows = conn.execute(
                    sql.page_sql(spec.collection, where, order),
                    [*where.params, *order_params, limit, (page - 1) * limit],
                ).fetchall()
            finally:
                _rollback(conn)  # a read transaction: nothing to commit
        except sqlite3.Error as e:
            raise translate(e, f"{spec.name}: query") from e
        return QueryResult([orjson.loads(row[0]) for row in rows], count)

    def get(self, spec: ResourceSpec, uid: str) -> dict[str, Any] | None:
        """The document of ``uid``, or None."""
        rows = self._read(spec, sql.get_sql(spec.collection), (uid,))
        if not rows:
            return None
        doc: dict[str, Any] = orjson.loads(rows[0][0])
        return doc

    def count(self, spec: ResourceSpec, *, namespace: str | None = None) -> int:
        """Rows of the resource (in ``namespace`` if given)."""
        in_namespace = namespace is not None
        statement = sql.count_sql(spec.collection, in_namespace=in_namespace)
        rows = self._read(spec, statement, (namespace,) if in_namespace else ())
        return int(rows[0][0])

    def counts(self) -> dict[str, int]:
        """Rows per resource whose schema was ensured."""
        with self._lock:
            specs = list(self._specs.values())
        return {spec.name: self.count(spec) for spec in specs}

    def group_counts(
        self,
        spec: ResourceSpec,
        field: str | FieldComparison,
        *,
        namespace: str | None = None,
    ) -> list[GroupCount]:
        """Rows per value of ``field`` (JSON-typed) or of a comparison."""
        if not isinstance(field, FieldComparison):
            check_field(field)
        in_namespace = namespace is not None
        statement = sql.group_sql(self._layout(spec), field, in_namespace=in_namespace)
        rows = self._read(spec, statement, (namespace,) if in_namespace else ())
        return sorted_groups((_group_value(field, value), count) for value, count in rows)

    def _layout(self, spec: ResourceSpec) -> sql.TableLayout:
        with self._lock:
            layout = self._layouts.get(spec.name)
        # a spec never ensured here: the columns its indexes would add may not exist
        return layout or sql.TableLayout(collection=spec.collection, generated={}, indexes={})

    def _read(self, spec: ResourceSpec, statement: str, params: Sequence[object]) -> list[Any]:
        conn = self._conn()
        try:
            return conn.execute(statement, params).fetchall()
        except sqlite3.Error as e:
            raise translate(e, f"{spec.name}: read") from e

    # -- lifecycle -----------------------------------------------------------------------------

    def ping(self) -> None:
        """Read the bookkeeping table (touches the file, not just the connection)."""
        conn = self._conn()
        try:
            conn.execute(sql.META_READ).fetchall()
        except sqlite3.Error as e:
            raise translate(e, "ping") from e

    def close(self) -> None:
        """Close every thread's connection; later calls raise PermanentBackendError."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error as e:
                logger.warning("sqlite: closing a connection to %s failed: %s", self.path, e)


def _failure(up: Upsert, reason: FailureReason, message: str) -> FailedWrite:
    return FailedWrite(uid=up.uid, key=up.key, reason=reason, message=message)


@contextlib.contextmanager
def _write_transaction(conn: sqlite3.Connection, what: str) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` around the block; rolled back if anything raises, and a
    sqlite3 error is translated (:func:`translate`, with ``what`` as its context)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
    except sqlite3.Error as e:
        raise translate(e, what) from e


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as e:  # the original error matters more
            logger.debug("sqlite: rollback failed: %s", e)


def _group_value(field: str | FieldComparison, value: Any) -> JsonScalar:
    if isinstance(field, FieldComparison):
        return None if value is None else bool(value)
    if field in sql.COLUMNS:
        # a column holds the plain value; '' is the namespace of a cluster-scoped object
        return None if value in (None, "") else str(value)
    if value is None:
        return None
    decoded = orjson.loads(value)
    if isinstance(decoded, dict | list):  # group by a sub-document: keep its JSON text
        return str(value)
    result: JsonScalar = decoded
    return result
