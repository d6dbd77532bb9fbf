"""The SQLite backend's own promises: a durable WAL file, one cluster per file, transient locks,
many reader threads beside one writer, and breakdowns answered from an index."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from informer_mirror.backends import SqliteBackend, Upsert, open_backend
from informer_mirror.backends import sqlite as sqlite_mod
from informer_mirror.backends import sqlite_sql as sql
from informer_mirror.errors import PermanentBackendError, TransientBackendError
from informer_mirror.settings import (
    ClusterSettings,
    Settings,
    SqliteBackendSettings,
    WriterSettings,
)
from tests.backends.support import CLUSTER, REGISTRY, pod, sqlite_backend, upserts

PODS = REGISTRY["pods"]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "mirror.db"


def test_the_file_is_in_wal_mode_and_keeps_its_documents_across_reopening(path: Path) -> None:
    backend = sqlite_backend(path)
    backend.ensure_schema(PODS)
    backend.apply(PODS, upserts("pods", [pod("a", rv="7"), pod("b", rv="8")]), [])
    backend.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened = sqlite_backend(path)
    try:
        reopened.ensure_schema(PODS)
        assert reopened.versions(PODS) == {"uid-default-a": "7", "uid-default-b": "8"}
    finally:
        reopened.close()


def test_a_file_that_mirrors_another_cluster_is_refused(path: Path) -> None:
    sqlite_backend(path).close()
    with pytest.raises(PermanentBackendError, match="mirrors cluster 'test-cluster'"):
        SqliteBackend(path, cluster="another-cluster")


def test_a_file_that_is_not_a_database_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, " * 100)
    with pytest.raises(PermanentBackendError):
        sqlite_backend(path)


def test_a_lock_held_by_another_connection_is_a_transient_error(path: Path) -> None:
    backend = sqlite_backend(path, busy_timeout=0.05)
    backend.ensure_schema(PODS)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(TransientBackendError, match="locked"):
            backend.apply(PODS, upserts("pods", [pod("a")]), [])
        other.execute("ROLLBACK")
        assert backend.apply(PODS, upserts("pods", [pod("a")]), []).upserted == 1
    finally:
        other.close()
        backend.close()


def test_reader_threads_see_whole_batches_while_one_thread_writes(path: Path) -> None:
    backend = sqlite_backend(path)
    backend.ensure_schema(PODS)
    size = 50
    backend.apply(PODS, upserts("pods", [pod(f"p{i}", rv="0") for i in range(size)]), [])
    stop = threading.Event()
    problems: list[str] = []
    reads = [0] * 4

    def write() -> None:
        for rv in range(1, 40):
            batch = upserts("pods", [pod(f"p{i}", rv=str(rv)) for i in range(size)])
            backend.apply(PODS, batch, [])
        stop.set()

    def read(slot: int) -> None:
        while not stop.is_set():
            result = backend.query(PODS, limit=size)
            versions = {item["resourceVersion"] for item in result.items}
            if result.total != size or len(result.items) != size or len(versions) != 1:
                problems.append(f"total {result.total}, versions {sorted(versions)}")
            reads[slot] += 1

    threads = [threading.Thread(target=read, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=write))
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    backend.close()
    assert problems == []
    assert all(n > 0 for n in reads)


def test_documents_fill_the_creation_time_and_labels_columns(path: Path) -> None:
    backend = sqlite_backend(path)
    backend.ensure_schema(PODS)
    objects = [pod("a", labels={"app": "web"}, created="2026-02-03T04:05:06Z")]
    backend.apply(PODS, upserts("pods", objects), [])
    backend.close()
    with sqlite3.connect(path) as raw:
        row = raw.execute("SELECT namespace, name, created, labels FROM pods").fetchone()
    assert row == ("default", "a", "2026-02-03T04:05:06Z", '{"app":"web"}')


def test_a_breakdown_reads_an_index_and_never_the_documents(path: Path) -> None:
    backend = sqlite_backend(path)
    backend.ensure_schema(PODS)
    backend.close()
    layout = sql.table_layout(PODS.collection, PODS.indexes)
    with sqlite3.connect(path) as raw:
        for field in ("phase", "nodeName"):
            statement = sql.group_sql(layout, field, in_namespace=False)
            plan = " ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}"))
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan


def test_a_new_index_in_the_configuration_is_added_to_an_existing_table(path: Path) -> None:
    backend = sqlite_backend(path)
    backend.ensure_schema(PODS)
    backend.apply(PODS, upserts("pods", [pod("a"), pod("b", phase="Pending")]), [])
    wider = dataclasses.replace(PODS, indexes=(*PODS.indexes, ("qosClass", "phase")))
    backend.ensure_schema(wider)
    assert backend.count(wider) == 2
    backend.close()
    with sqlite3.connect(path) as raw:
        indexes = {row[1] for row in raw.execute("PRAGMA index_list(pods)")}
        # table_xinfo's "hidden": 3 for a STORED generated column, 2 for a VIRTUAL one
        hidden = {row[1]: row[6] for row in raw.execute("PRAGMA table_xinfo(pods)")}
        phases = dict(raw.execute("SELECT name, f_phase FROM pods").fetchall())
    assert {
        "pods__namespace_name",
        "pods__name",
        "pods__created",
        "pods__ix__namespace__f_phase",
        "pods__ix__f_nodeName__f_phase",
        "pods__ix__f_qosClass__f_phase",
    } <= indexes
    # made with the table: stored in each row; added later (ALTER TABLE): computed on reading
    assert (hidden["f_phase"], hidden["f_nodeName"], hidden["f_qosClass"]) == (3, 3, 2)
    assert phases == {"a": '"Running"', "b": '"Pending"'}


def test_open_backend_opens_the_configured_file_for_the_configured_cluster(path: Path) -> None:
    settings = Settings(
        cluster=ClusterSettings(name=CLUSTER), backend=SqliteBackendSettings(path=path)
    )
    backend = open_backend(settings)
    try:
        assert isinstance(backend, SqliteBackend)
        assert backend.kind == "sqlite"
        assert backend.describe() == f"sqlite:{path}"
        backend.ping()
    finally:
        backend.close()
    assert path.exists()


def test_a_batch_stores_every_document_exactly_as_given(path: Path) -> None:
    backend = sqlite_backend(path)
    backend.ensure_schema(PODS)
    tricky = pod("tricky", labels={"team": "zürich-🚀", "quote": 'say "hi"'})
    tricky["metadata"]["annotations"] = {
        "note": "line 1\nline 2\ttab \\ backslash \u0001 control",
        "cjk": "日本語",
    }
    tricky["spec"]["numbers"] = [0, -1, 2**63 - 1, 1.5, 1e-07, 12345678901234567890.0]
    tricky["spec"]["empty"] = {"list": [], "object": {}, "null": None, "flag": False}
    sent = {u.uid: u.document.decode() for u in upserts("pods", [pod("plain"), tricky])}
    assert len(sent) == 2
    backend.apply(PODS, upserts("pods", [pod("plain"), tricky]), [])
    backend.close()
    with sqlite3.connect(path) as raw:
        stored = dict(raw.execute("SELECT uid, doc FROM pods").fetchall())
        labels = raw.execute("SELECT labels FROM pods WHERE name = 'tricky'").fetchone()[0]
    assert stored == sent
    assert json.loads(labels) == {"team": "zürich-🚀", "quote": 'say "hi"'}


@pytest.mark.parametrize("count", [0, 1, 7, 8, 9, 127, 128, 129, 173, 500, 1000, 2000, 2047])
@pytest.mark.parametrize("max_params", [32766, 999, 7])
def test_upsert_statements_cover_every_row_of_a_batch_once_in_order(
    count: int, max_params: int
) -> None:
    chunks = sql.upsert_chunks(count, max_params=max_params)
    starts = [start for start, _ in chunks]
    assert starts == sorted(starts)
    assert [start + size for start, size in chunks[:-1]] == starts[1:]
    assert sum(size for _, size in chunks) == count
    assert all(size in sql.UPSERT_ROWS for _, size in chunks)
    assert all(size * sql.UPSERT_PARAMS <= max_params or size == 1 for _, size in chunks)
    if count == 2000 and max_params == 32766:
        assert len(chunks) == 7


def test_no_batch_of_up_to_2000_rows_takes_more_than_11_upsert_statements() -> None:
    # the bound UPSERT_ROWS states: the writer gives the GIL up once per statement
    assert max(len(sql.upsert_chunks(count)) for count in range(2001)) == 11


def test_a_default_batch_takes_12_upsert_statements_and_none_up_to_it_more_than_17() -> None:
    size = WriterSettings().batch_size
    assert len(sql.upsert_chunks(size)) == 12
    assert max(len(sql.upsert_chunks(count)) for count in range(size + 1)) == 17


def test_a_document_that_is_not_utf8_is_skipped_as_unencodable_and_the_rest_lands(
    path: Path,
) -> None:
    backend = sqlite_backend(path)
    backend.ensure_schema(PODS)
    good = upserts("pods", [pod("a"), pod("b")])
    latin1 = Upsert(
        "uid-bad", "default", "bad", "1", '{"uid":"uid-bad","note":"zürich"}'.encode("latin-1")
    )
    result = backend.apply(PODS, [good[0], latin1, good[1]], [])
    assert result.upserted == 2
    assert [(f.key, f.reason) for f in result.failed] == [("default/bad", "unencodable")]
    assert set(backend.versions(PODS)) == {"uid-default-a", "uid-default-b"}
    backend.close()
    with sqlite3.connect(path) as raw:
        types = {row[0] for row in raw.execute("SELECT typeof(doc) FROM pods")}
    assert types == {"text"}  # stored as TEXT, as the JSON queries read it


def test_an_sqlite_with_a_lower_parameter_limit_gets_smaller_upsert_statements(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = sqlite_backend(path)
    backend.ensure_schema(PODS)
    conn = backend._writer_conn()  # this thread's: the one apply() writes with
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)  # as SQLite before 3.32
    result = backend.apply(PODS, upserts("pods", [pod(f"p{i}") for i in range(700)]), [])
    assert result.upserted == 700
    assert not result.failed
    assert backend.count(PODS) == 700
    assert "one by one" not in caplog.text  # no statement was refused for its parameters
    backend.close()


def test_a_batch_of_many_statements_with_a_bad_row_lands_whole_but_the_bad_row(
    path: Path,
) -> None:
    backend = sqlite_backend(path)
    backend.ensure_schema(PODS)
    first = upserts("pods", [pod(f"p-{i:03d}", labels={"n": str(i)}) for i in range(173)])
    not_json = Upsert("uid-bad", "default", "bad", "1", b'{"uid": "uid-bad", "name": ')
    # the bad row sits in the third statement (128 + 32 + 8 + 4 + 2): that one fails, and every
    # row is written again one by one in the same transaction (idempotent for the first two)
    batch = [*first[:165], not_json, *first[165:]]
    result = backend.apply(PODS, batch, [])
    assert result.upserted == 173
    assert [(f.key, f.reason) for f in result.failed] == [("default/bad", "unencodable")]
    updated = upserts("pods", [pod(f"p-{i:03d}", labels={"n": f"v2-{i}"}) for i in range(173)])
    assert backend.apply(PODS, updated, []).upserted == 173
    backend.close()
    with sqlite3.connect(path) as raw:
        stored = dict(raw.execute("SELECT name, labels FROM pods").fetchall())
    assert stored == {
        f"p-{i:03d}": json.dumps({"n": f"v2-{i}"}, separators=(",", ":")) for i in range(173)
    }


def test_the_writer_does_not_checkpoint_the_wal_after_every_batch(path: Path) -> None:
    # SQLite's default checkpoints once the WAL holds 1000 pages (4 MiB), then starts it over, so
    # the file never grew much past 5 MiB; the writer lets it reach WAL_CHECKPOINT_PAGES.
    backend = sqlite_backend(path)
    backend.ensure_schema(PODS)
    for batch in range(14):  # ~0.7 MB of WAL each
        objects = [pod(f"p-{batch}-{i}") for i in range(500)]
        backend.apply(PODS, upserts("pods", objects), [])
    wal = path.with_name(path.name + "-wal")
    assert wal.stat().st_size > 8 * 1024 * 1024
    assert wal.stat().st_size < (sqlite_mod.WAL_CHECKPOINT_PAGES + 2000) * 4096
    assert backend.count(PODS) == 7000
    backend.close()
