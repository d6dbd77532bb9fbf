"""Hostile and malformed query parameters: a 400 naming the parameter, never a 500."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from informer_mirror.api.params import MAX_LIMIT, ListQuery, parse_list_query


def bad(client: FlaskClient, url: str, query: dict[str, str] | None = None) -> dict[str, str]:
    response = client.get(url, query_string=query)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == 400 and body["error"] == "Bad Request"
    return body


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("page", "0"),
        ("page", "-1"),
        ("page", "+1"),
        ("page", "1.5"),
        ("page", "1e3"),
        ("page", ""),
        ("page", " 1"),
        ("page", "abc"),
        ("page", "9" * 5000),
        ("page", "١٢"),  # Arabic-Indic digits: str.isdigit() says yes, we say no
        ("page", "1000001"),
        ("limit", "0"),
        ("limit", "-10"),
        ("limit", str(MAX_LIMIT + 1)),
        ("limit", "99999999999999999999999"),
        ("limit", "ten"),
        ("namespace", "Default"),
        ("namespace", "a" * 64),
        ("namespace", "-bad"),
        ("namespace", ""),
        ("namespace", "../etc"),
        ("search", "x" * 254),
        ("search", "nul\x00byte"),
        ("search", "line\nbreak"),
        ("labelSelector", "app=web,,"),
        ("labelSelector", "app in (web"),
        ("labelSelector", "=web"),
        ("labelSelector", "a b"),
        ("labelSelector", "app=" + "v" * 64),
        ("labelSelector", "k" * 1025),
        ("labelSelector", "app=\x07"),
        ("sort", "uid"),
        ("sort", "name; DROP TABLE pods"),
        ("sort", "--name"),
        ("sort", "labels.app"),
    ],
)
def test_an_invalid_value_is_a_400_naming_the_parameter(
    client: FlaskClient, parameter: str, value: str
) -> None:
    body = bad(client, "/api/v1/pods", {parameter: value})
    assert body["parameter"] == parameter
    assert body["message"].startswith(f"{parameter}: ")
    assert len(body["message"]) < 1500  # a hostile value is not echoed whole


def test_an_unknown_parameter_is_a_400_naming_it(client: FlaskClient) -> None:
    body = bad(client, "/api/v1/pods?labelselector=app%3Dweb")
    assert body["parameter"] == "labelselector"
    assert "labelSelector" in body["message"]  # the allowed names help fix the typo


def test_a_parameter_given_twice_is_a_400(client: FlaskClient) -> None:
    assert bad(client, "/api/v1/pods?page=1&page=2")["parameter"] == "page"


def test_an_object_get_takes_no_parameters(client: FlaskClient) -> None:
    assert bad(client, "/api/v1/pods/pod-01?limit=5")["parameter"] == "limit"


@pytest.mark.parametrize(
    "url", ["/api/v1/resources?x=1", "/api/v1/status?x=1", "/api/v1/stats/overview?x=1"]
)
def test_system_endpoints_reject_unknown_parameters(client: FlaskClient, url: str) -> None:
    assert bad(client, url)["parameter"] == "x"


def test_probes_ignore_parameters(client: FlaskClient) -> None:
    assert client.get("/healthz?verbose=1").status_code == 200
    assert client.get("/readyz?verbose").status_code == 200


def test_a_very_long_uid_is_a_400(client: FlaskClient) -> None:
    assert bad(client, "/api/v1/pods/" + "u" * 300)["parameter"] == "uid"


def test_an_empty_search_or_selector_filters_nothing() -> None:
    query = parse_list_query({"search": [""], "labelSelector": [""]}, namespaced=True)
    assert query == ListQuery()


def test_valid_values_are_parsed() -> None:
    query = parse_list_query(
        {
            "page": ["3"],
            "limit": ["1000"],
            "namespace": ["kube-system"],
            "search": ["Nginx"],
            "labelSelector": ["app in (a,b),!legacy"],
            "sort": ["-creationTimestamp"],
        },
        namespaced=True,
    )
    assert (query.page, query.limit, query.namespace, query.search) == (
        3,
        1000,
        "kube-system",
        "Nginx",
    )
    assert [r.op for r in query.label_selector] == ["in", "!"]
    assert query.sort == "-creationTimestamp"


QUERY_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    params=st.dictionaries(
        st.sampled_from(["page", "limit", "namespace", "search", "labelSelector", "sort", "x"]),
        QUERY_TEXT,
        max_size=4,
    )
)
def test_any_query_is_answered_200_or_a_json_400_never_a_500(
    client: FlaskClient, params: dict[str, str]
) -> None:
    response = client.get("/api/v1/pods", query_string=params)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    if response.status_code == 400:
        assert body["parameter"] in params
    else:
        assert 0 <= len(body["items"]) <= body["limit"]
