"""The Backend contract, run on every backend: SQLite on a real file, MongoDB through mongomock,
and a real MongoDB when ``INFORMER_MIRROR_TEST_MONGO_URI`` is set (the same tests)."""

from __future__ import annotations

import orjson
import pytest

from informer_mirror.backends import Backend, Delete, FieldComparison, GroupCount, Upsert
from informer_mirror.errors import PermanentBackendError, QueryError, SelectorError
from tests.backends.conftest import BackendFactory
from tests.backends.support import CLUSTER, REGISTRY, k8s_object, pod, upserts

PODS = REGISTRY["pods"]
NODES = REGISTRY["nodes"]
DEPLOYMENTS = REGISTRY["deployments"]


def names(backend: Backend, **query: object) -> list[str]:
    result = backend.query(PODS, limit=1000, **query)  # type: ignore[arg-type]
    return [item["name"] for item in result.items]


@pytest.fixture
def shop(backend: Backend) -> Backend:
    """Pods across two namespaces with labels worth selecting on."""
    objects = [
        pod("web-1", "shop", labels={"app": "web", "app.kubernetes.io/name": "shop", "rank": "10"}),
        pod("web-2", "shop", phase="Pending", labels={"app": "web", "rank": "3"}),
        pod("db-1", "shop", node="node-2", labels={"app": "db", "tier": "data"}),
        pod("Batch_Job%1", "jobs", phase="Succeeded", labels={"app": "batch"}),
        pod("lonely", "jobs", phase="Failed", node="node-2"),
    ]
    result = backend.apply(PODS, upserts("pods", objects), [])
    assert result.upserted == 5
    return backend


def test_an_applied_batch_is_stored_as_sent_and_reported_by_versions_get_and_count(
    backend: Backend,
) -> None:
    batch = upserts("pods", [pod("a", rv="11"), pod("b", rv="12", labels={"app": "x"})])
    result = backend.apply(PODS, batch, [])
    assert (result.upserted, result.deleted, result.failed) == (2, 0, ())
    assert backend.versions(PODS) == {"uid-default-a": "11", "uid-default-b": "12"}
    stored = backend.get(PODS, "uid-default-b")
    assert stored == orjson.loads(batch[1].document)
    assert stored is not None
    assert stored["_mirror"]["cluster"] == CLUSTER
    assert stored["resourceVersion"] == "12"
    assert backend.get(PODS, "no-such-uid") is None
    assert backend.count(PODS) == 2
    assert backend.count(PODS, namespace="default") == 2
    assert backend.count(PODS, namespace="elsewhere") == 0
    assert backend.counts() == {"pods": 2, "nodes": 0, "deployments": 0}


def test_an_upsert_of_a_known_uid_replaces_its_document(backend: Backend) -> None:
    backend.apply(PODS, upserts("pods", [pod("a", rv="1", phase="Pending")]), [])
    backend.apply(PODS, upserts("pods", [pod("a", rv="2", phase="Running")]), [])
    assert backend.versions(PODS) == {"uid-default-a": "2"}
    stored = backend.get(PODS, "uid-default-a")
    assert stored is not None
    assert stored["phase"] == "Running"


def test_a_recreated_object_replaces_its_predecessor_under_the_same_key(backend: Backend) -> None:
    backend.apply(PODS, upserts("pods", [pod("a", uid="old-uid", rv="1")]), [])
    backend.apply(PODS, upserts("pods", [pod("a", uid="new-uid", rv="5")]), [])
    assert backend.versions(PODS) == {"new-uid": "5"}
    assert backend.query(PODS).total == 1


def test_deletes_by_key_and_by_uid_remove_documents_and_missing_ones_are_no_ops(
    backend: Backend,
) -> None:
    backend.apply(PODS, upserts("pods", [pod("a"), pod("b"), pod("c")]), [])
    cluster_scoped = upserts("nodes", [k8s_object("node-1", None)])
    backend.apply(NODES, cluster_scoped, [])
    result = backend.apply(
        PODS,
        [],
        [Delete.by_key("default/a"), Delete.by_uid("uid-default-b"), Delete.by_key("default/zz")],
    )
    assert result.deleted == 2
    assert set(backend.versions(PODS)) == {"uid-default-c"}
    assert backend.apply(NODES, [], [Delete.by_key("node-1")]).deleted == 1
    assert backend.versions(NODES) == {}


def test_deletes_and_upserts_of_one_batch_land_together(backend: Backend) -> None:
    backend.apply(PODS, upserts("pods", [pod("a"), pod("b")]), [])
    result = backend.apply(PODS, upserts("pods", [pod("c")]), [Delete.by_key("default/a")])
    assert (result.upserted, result.deleted) == (1, 1)
    assert set(backend.versions(PODS)) == {"uid-default-b", "uid-default-c"}


def test_documents_that_cannot_be_stored_are_reported_and_the_rest_of_the_batch_lands(
    make_backend: BackendFactory,
) -> None:
    backend = make_backend(max_document_bytes=64 * 1024)
    backend.ensure_schema(PODS)
    huge = pod("huge")
    huge["metadata"]["annotations"] = {"note": "x" * 100_000}
    batch = upserts("pods", [pod("a"), huge, pod("b")])
    not_json = Upsert("uid-bad", "default", "bad", "1", b'{"uid": "uid-bad", "name": ')
    result = backend.apply(PODS, [*batch, not_json], [])
    assert result.upserted == 2
    assert {(f.key, f.reason) for f in result.failed} == {
        ("default/huge", "too_large"),
        ("default/bad", "unencodable"),
    }
    assert set(backend.versions(PODS)) == {"uid-default-a", "uid-default-b"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["web-1", "web-2"]),
        ("app==web", ["web-1", "web-2"]),
        ("app!=web", ["Batch_Job%1", "db-1", "lonely"]),
        ("app in (db, batch)", ["Batch_Job%1", "db-1"]),
        ("app notin (web,db)", ["Batch_Job%1", "lonely"]),
        ("tier", ["db-1"]),
        ("!app", ["lonely"]),
        ("app.kubernetes.io/name=shop", ["web-1"]),
        ("app=web,rank>5", ["web-1"]),
        ("rank<5", ["web-2"]),
        ("app=web,tier=data", []),
        ("", ["Batch_Job%1", "db-1", "lonely", "web-1", "web-2"]),
    ],
)
def test_label_selectors_select_as_kubernetes_does(
    shop: Backend, selector: str, expected: list[str]
) -> None:
    assert sorted(names(shop, label_selector=selector)) == expected


def test_an_invalid_label_selector_is_a_query_error(shop: Backend) -> None:
    with pytest.raises(SelectorError):
        shop.query(PODS, label_selector="app in (web")
    assert issubclass(SelectorError, QueryError)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("web", ["web-1", "web-2"]),
        ("WEB-1", ["web-1"]),
        ("_job%", ["Batch_Job%1"]),
        ("%", ["Batch_Job%1"]),
        ("_", ["Batch_Job%1"]),
        (".*", []),
        ("web|db", []),
        ("'; DROP TABLE pods; --", []),
        ("\\", []),
    ],
)
def test_search_is_a_literal_case_insensitive_substring_of_the_name(
    shop: Backend, search: str, expected: list[str]
) -> None:
    assert sorted(names(shop, search=search)) == expected
    assert shop.count(PODS) == 5


def test_filters_combine_and_the_namespace_filter_scopes_the_total(shop: Backend) -> None:
    result = shop.query(PODS, namespace="shop", search="web", label_selector="rank")
    assert sorted(item["name"] for item in result.items) == ["web-1", "web-2"]
    assert result.total == 2
    assert shop.query(PODS, namespace="jobs").total == 2


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, ["Batch_Job%1", "lonely", "db-1", "web-1", "web-2"]),
        ("namespace", ["Batch_Job%1", "lonely", "db-1", "web-1", "web-2"]),
        ("-namespace", ["web-2", "web-1", "db-1", "lonely", "Batch_Job%1"]),
        ("name", ["Batch_Job%1", "db-1", "lonely", "web-1", "web-2"]),
        ("-name", ["web-2", "web-1", "lonely", "db-1", "Batch_Job%1"]),
        ("phase", ["lonely", "web-2", "db-1", "web-1", "Batch_Job%1"]),
    ],
)
def test_sorting_orders_by_the_field_then_namespace_and_name(
    shop: Backend, sort: str | None, expected: list[str]
) -> None:
    assert names(shop, sort=sort) == expected


def test_sorting_by_creation_time_puts_older_objects_first(backend: Backend) -> None:
    objects = [
        pod("new", created="2026-03-01T00:00:00Z"),
        pod("old", created="2025-01-01T00:00:00Z"),
        pod("mid", created="2026-01-01T00:00:00Z"),
    ]
    backend.apply(PODS, upserts("pods", objects), [])
    assert names(backend, sort="creationTimestamp") == ["old", "mid", "new"]
    assert names(backend, sort="-creationTimestamp") == ["new", "mid", "old"]


def test_pages_partition_the_result_and_a_page_past_the_end_is_empty(backend: Backend) -> None:
    backend.apply(PODS, upserts("pods", [pod(f"p-{i:02d}") for i in range(23)]), [])
    seen: list[str] = []
    for page in (1, 2, 3):
        result = backend.query(PODS, page=page, limit=10, sort="name")
        assert result.total == 23
        seen += [item["name"] for item in result.items]
    assert seen == [f"p-{i:02d}" for i in range(23)]
    assert backend.query(PODS, page=4, limit=10).items == []


@pytest.mark.parametrize(
    "query",
    [
        {"page": 0},
        {"limit": 0},
        {"sort": "name; DROP TABLE pods"},
        {"sort": "$where"},
        {"sort": "-"},
    ],
)
def test_an_impossible_query_is_a_query_error(shop: Backend, query: dict[str, object]) -> None:
    with pytest.raises(QueryError):
        shop.query(PODS, **query)  # type: ignore[arg-type]


def test_group_counts_break_a_resource_down_by_a_field(shop: Backend) -> None:
    assert shop.group_counts(PODS, "phase") == [
        GroupCount("Running", 2),
        GroupCount("Failed", 1),
        GroupCount("Pending", 1),
        GroupCount("Succeeded", 1),
    ]
    assert shop.group_counts(PODS, "nodeName") == [
        GroupCount("node-1", 3),
        GroupCount("node-2", 2),
    ]
    assert shop.group_counts(PODS, "phase", namespace="jobs") == [
        GroupCount("Failed", 1),
        GroupCount("Succeeded", 1),
    ]
    assert shop.group_counts(PODS, "namespace") == [GroupCount("shop", 3), GroupCount("jobs", 2)]
    assert shop.group_counts(PODS, "noSuchField") == [GroupCount(None, 5)]


def test_group_counts_keep_booleans_apart_and_compare_fields(backend: Backend) -> None:
    ready = {"conditions": [{"type": "Ready", "status": "True"}]}
    not_ready = {"conditions": [{"type": "Ready", "status": "False"}]}
    nodes = [
        k8s_object("n1", None, status=ready),
        k8s_object("n2", None, status=ready),
        k8s_object("n3", None, status=not_ready),
    ]
    backend.apply(NODES, upserts("nodes", nodes), [])
    assert backend.group_counts(NODES, "ready") == [GroupCount(True, 2), GroupCount(False, 1)]
    assert backend.group_counts(NODES, "namespace") == [GroupCount(None, 3)]

    def deployment(name: str, replicas: int, available: int) -> dict[str, object]:
        return k8s_object(
            name, spec={"replicas": replicas}, status={"availableReplicas": available}
        )

    deployments = [deployment("a", 3, 3), deployment("b", 2, 1), deployment("c", 0, 0)]
    backend.apply(DEPLOYMENTS, upserts("deployments", deployments), [])
    fully_available = FieldComparison("availableReplicas", ">=", "replicas")
    assert backend.group_counts(DEPLOYMENTS, fully_available) == [
        GroupCount(True, 2),
        GroupCount(False, 1),
    ]
    with pytest.raises(QueryError):
        FieldComparison("replicas", ">=", "$where")


def test_ensure_schema_is_idempotent_and_keeps_documents(backend: Backend) -> None:
    backend.apply(PODS, upserts("pods", [pod("a")]), [])
    backend.ensure_schema(PODS)
    assert backend.count(PODS) == 1


def test_ping_answers_while_open_and_a_closed_backend_refuses_calls(backend: Backend) -> None:
    backend.ping()
    backend.close()
    with pytest.raises(PermanentBackendError):
        backend.versions(PODS)
    backend.close()  # idempotent
