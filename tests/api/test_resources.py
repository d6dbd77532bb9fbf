"""The per-resource routes over a real SQLite mirror: list, get by uid, the namespace routes."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.fakes import SEARCH_NAMES


def get_json(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def names(body: dict[str, Any]) -> list[str]:
    return [item["name"] for item in body["items"]]


def test_a_list_answers_items_total_page_limit_and_pages(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/pods")
    assert set(body) == {"items", "total", "page", "limit", "pages"}
    assert body["total"] == 35
    assert (body["page"], body["limit"], body["pages"]) == (1, 10, 4)
    assert len(body["items"]) == 10
    first = body["items"][0]
    assert first["kind"] == "Pod" and first["apiVersion"] == "v1"
    assert {"uid", "name", "namespace", "phase", "nodeName"} <= set(first)


def test_pages_walk_every_object_once_without_overlap(client: FlaskClient) -> None:
    seen: list[str] = []
    for page in range(1, 5):
        body = get_json(client, f"/api/v1/pods?limit=10&page={page}")
        seen += [item["uid"] for item in body["items"]]
    assert len(seen) == 35 and len(set(seen)) == 35


def test_a_page_past_the_last_is_empty_not_an_error(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/pods?page=50&limit=10")
    assert body["items"] == [] and body["total"] == 35 and body["pages"] == 4


def test_an_empty_resource_has_zero_pages(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/configmaps")
    assert body == {"items": [], "total": 0, "page": 1, "limit": 10, "pages": 0}


def test_the_namespace_parameter_filters(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/pods?namespace=kube-system&limit=100")
    assert body["total"] == 15
    assert {item["namespace"] for item in body["items"]} == {"kube-system"}


@pytest.mark.parametrize("prefix", ["namespace", "namespaces"])
def test_both_namespace_routes_list_one_namespace(client: FlaskClient, prefix: str) -> None:
    body = get_json(client, f"/api/v1/{prefix}/default/pods?limit=100&labelSelector=app%3Dweb")
    assert body["total"] > 0
    assert all(i["namespace"] == "default" and i["labels"]["app"] == "web" for i in body["items"])
    everything = get_json(client, "/api/v1/pods?namespace=default&labelSelector=app=web")
    assert everything["total"] == body["total"]


@pytest.mark.parametrize("prefix", ["namespace", "namespaces"])
def test_a_cluster_scoped_resource_has_no_namespace_route(client: FlaskClient, prefix: str) -> None:
    body = get_json(client, f"/api/v1/{prefix}/default/nodes", status=404)
    assert body["status"] == 404
    assert "cluster-scoped" in body["message"]


def test_a_namespace_route_rejects_a_namespace_parameter_too(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/namespaces/default/pods?namespace=other", status=400)
    assert body["parameter"] == "namespace"


def test_a_cluster_scoped_list_takes_no_namespace_parameter(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/nodes?namespace=default", status=400)
    assert body["parameter"] == "namespace"


def test_an_invalid_namespace_in_the_path_is_a_400(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/namespaces/Not_A_Namespace/pods", status=400)
    assert body["parameter"] == "namespace"


def test_search_is_a_case_insensitive_substring_of_the_name(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/pods?search=WEB-1&limit=100")
    assert sorted(names(body)) == [f"web-{i}" for i in range(10, 20)]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("%", ["a%b-1"]),
        ("_", ["a_b-2"]),
        (".*", []),
        ("dot.star", ["dot.star-3"]),
        ("o'neil", ["quote-o'neil-4"]),
        ("(x)", ["paren(x)-5"]),
        ("'; DROP TABLE pods; --", []),
        ("[a-z]+", []),
    ],
)
def test_search_metacharacters_are_data_never_interpreted(
    client: FlaskClient, search: str, expected: list[str]
) -> None:
    response = client.get("/api/v1/pods", query_string={"search": search, "limit": 100})
    assert response.status_code == 200
    body = response.get_json()
    assert sorted(names(body)) == expected
    # and nothing was dropped: the table is intact
    assert get_json(client, "/api/v1/pods")["total"] == 30 + len(SEARCH_NAMES)


def test_unicode_search_is_accepted_and_matches_nothing(client: FlaskClient) -> None:
    response = client.get("/api/v1/pods", query_string={"search": "ポッド🚀"})
    assert response.status_code == 200
    assert response.get_json()["total"] == 0


@pytest.mark.parametrize(
    ("selector", "count"),
    [
        ("app=db", 8),
        ("app!=db", 27),
        ("app in (web,db)", 30),
        ("tier notin (front)", 20),
        ("tier", 30),
        ("!tier", 5),
        ("app=web,tier=front", 11),
    ],
)
def test_label_selectors_filter_like_kubernetes(
    client: FlaskClient, selector: str, count: int
) -> None:
    response = client.get("/api/v1/pods", query_string={"labelSelector": selector})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["total"] == count


@pytest.mark.parametrize("field", ["name", "namespace", "creationTimestamp"])
def test_sort_orders_ascending_and_descending(client: FlaskClient, field: str) -> None:
    up = get_json(client, f"/api/v1/pods?sort={field}&limit=1000")["items"]
    down = get_json(client, f"/api/v1/pods?sort=-{field}&limit=1000")["items"]
    keys = [item[field] for item in up]
    assert keys == sorted(keys)
    assert [item[field] for item in down] == sorted(keys, reverse=True)


def test_sort_by_name_orders_names(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/pods?sort=name&namespace=default&limit=3")
    assert names(body) == ["web-00", "web-02", "web-04"]


def test_an_object_is_served_by_its_uid(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/pods/pod-07")
    assert body["uid"] == "pod-07" and body["name"] == "web-07"
    assert body["namespace"] == "kube-system" and body["phase"] == "Running"


def test_an_unknown_uid_is_a_json_404(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/pods/no-such-uid", status=404)
    assert body["error"] == "Not Found" and "no-such-uid" in body["message"]


def test_a_uid_of_another_resource_is_not_found_here(client: FlaskClient) -> None:
    get_json(client, "/api/v1/nodes/pod-07", status=404)


def test_the_namespace_resource_and_the_namespace_routes_do_not_collide(
    client: FlaskClient,
) -> None:
    assert get_json(client, "/api/v1/namespaces")["total"] == 0
    get_json(client, "/api/v1/namespaces/some-uid", status=404)
    assert get_json(client, "/api/v1/namespaces/odd/pods")["total"] == len(SEARCH_NAMES)


def test_every_registered_resource_has_a_list_route(client: FlaskClient, registry: Any) -> None:
    for spec in registry:
        assert client.get(f"/api/v1/{spec.name}").status_code == 200, spec.name
