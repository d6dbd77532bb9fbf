"""Lists over real HTTP with the official client: pagination, snapshots, RV semantics, selectors."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest
from kubernetes.client import AppsV1Api, CoreV1Api
from kubernetes.client.rest import ApiException

from informer_mirror.sim import SimHandle
from tests.helpers import deployment_obj, namespace_obj, pod_obj


def _populate(sim: SimHandle, n: int = 10) -> None:
    sim.state.create("namespaces", namespace_obj("default"))
    sim.state.create("namespaces", namespace_obj("other"))
    for i in range(n):
        tier = "web" if i % 2 else "db"
        sim.state.create("pods", pod_obj(f"p{i:02d}", tier=tier))
    sim.state.create("pods", pod_obj("elsewhere", namespace="other", tier="web"))


def _raw(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response.data)
    return data


def _status(err: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(err.body)
    return body


def _names(items: list[Any]) -> list[str]:
    return [p.metadata.name for p in items]


def test_list_items_lack_kind_and_api_version_and_carry_the_list_resource_version(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _populate(sim, 3)
    raw = _raw(CoreV1Api(kube_api).list_namespaced_pod("default", _preload_content=False))
    assert raw["kind"] == "PodList"
    assert raw["apiVersion"] == "v1"
    assert raw["metadata"] == {"resourceVersion": str(sim.state.resource_version)}
    assert [i["metadata"]["name"] for i in raw["items"]] == ["p00", "p01", "p02"]
    assert all("kind" not in i and "apiVersion" not in i for i in raw["items"])


def test_cluster_wide_and_namespaced_lists_return_the_right_objects(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _populate(sim, 2)
    sim.state.create("deployments", deployment_obj("web", namespace="other"))
    v1 = CoreV1Api(kube_api)
    assert _names(v1.list_pod_for_all_namespaces().items) == ["p00", "p01", "elsewhere"]
    assert _names(v1.list_namespaced_pod("other").items) == ["elsewhere"]
    apps = AppsV1Api(kube_api)
    assert _names(apps.list_deployment_for_all_namespaces().items) == ["web"]
    assert apps.list_namespaced_deployment("default").items == []


def test_pagination_returns_every_object_once_with_remaining_item_counts(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _populate(sim, 10)
    v1 = CoreV1Api(kube_api)
    first = v1.list_namespaced_pod("default", limit=4)
    assert _names(first.items) == ["p00", "p01", "p02", "p03"]
    assert first.metadata.remaining_item_count == 6
    names = _names(first.items)
    token = first.metadata._continue
    while token:
        page = v1.list_namespaced_pod("default", limit=4, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version
        names += _names(page.items)
        token = page.metadata._continue
    assert names == [f"p{i:02d}" for i in range(10)]
    assert page.metadata.remaining_item_count is None


def test_continue_pages_are_a_consistent_snapshot_while_objects_change(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _populate(sim, 9)
    v1 = CoreV1Api(kube_api)
    first = v1.list_pod_for_all_namespaces(limit=3)
    state = sim.state
    p05 = state.get("pods", "default", "p05")
    p05["metadata"]["labels"] = {"tier": "changed"}
    state.update("pods", p05)
    state.delete("pods", "default", "p07")
    state.create("pods", pod_obj("p04a"))
    state.create("pods", pod_obj("new", namespace="other"))
    items = list(first.items)
    token = first.metadata._continue
    while token:
        page = v1.list_pod_for_all_namespaces(limit=3, _continue=token)
        items += page.items
        token = page.metadata._continue
    assert _names(items) == [f"p{i:02d}" for i in range(9)] + ["elsewhere"]
    by_name = {p.metadata.name: p for p in items}
    assert by_name["p05"].metadata.labels == {"tier": "web"}
    fresh = v1.list_pod_for_all_namespaces()
    assert "p04a" in _names(fresh.items)
    assert "p07" not in _names(fresh.items)


def test_an_expired_continue_token_is_a_410_with_an_inconsistent_continue_token(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _populate(sim, 6)
    v1 = CoreV1Api(kube_api)
    first = v1.list_namespaced_pod("default", limit=2)
    sim.faults.expire_history()
    with pytest.raises(ApiException) as err:
        v1.list_namespaced_pod("default", limit=2, _continue=first.metadata._continue)
    assert err.value.status == 410
    status = _status(err.value)
    assert status["reason"] == "Expired"
    assert status["message"].startswith(
        "The provided continue parameter is too old to display a consistent list result. "
        "You can start a new list without the continue parameter"
    )
    inconsistent = v1.list_namespaced_pod(
        "default", limit=10, _continue=status["metadata"]["continue"]
    )
    assert _names(inconsistent.items) == ["p02", "p03", "p04", "p05"]


def test_resource_version_zero_is_served_from_the_cache_which_ignores_limit(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _populate(sim, 5)
    page = CoreV1Api(kube_api).list_namespaced_pod("default", limit=2, resource_version="0")
    assert len(page.items) == 5
    assert page.metadata._continue is None


def test_an_exact_resource_version_lists_the_past_and_410s_once_compacted(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _populate(sim, 3)
    then = str(sim.state.resource_version)
    sim.state.delete("pods", "default", "p01")
    v1 = CoreV1Api(kube_api)
    past = v1.list_namespaced_pod("default", resource_version=then, resource_version_match="Exact")
    assert _names(past.items) == ["p00", "p01", "p02"]
    assert past.metadata.resource_version == then
    with_limit = v1.list_namespaced_pod("default", resource_version=then, limit=10)
    assert _names(with_limit.items) == ["p00", "p01", "p02"]
    not_older = v1.list_namespaced_pod("default", resource_version=then)
    assert _names(not_older.items) == ["p00", "p02"]
    sim.faults.expire_history("pods")
    with pytest.raises(ApiException) as err:
        v1.list_namespaced_pod("default", resource_version=then, resource_version_match="Exact")
    assert err.value.status == 410
    assert _status(err.value)["message"] == "The resourceVersion for the provided list is too old."


def test_a_resource_version_from_the_future_is_a_504_too_large_with_retry_after(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _populate(sim, 1)
    future = str(sim.state.resource_version + 100)
    with pytest.raises(ApiException) as err:
        CoreV1Api(kube_api).list_namespaced_pod("default", resource_version=future)
    assert err.value.status == 504
    assert err.value.headers["Retry-After"] == "1"
    status = _status(err.value)
    assert status["reason"] == "Timeout"
    assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


def test_continue_with_a_resource_version_is_a_400(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _populate(sim, 4)
    v1 = CoreV1Api(kube_api)
    token = v1.list_namespaced_pod("default", limit=1).metadata._continue
    with pytest.raises(ApiException) as err:
        v1.list_namespaced_pod("default", limit=1, _continue=token, resource_version="1")
    assert err.value.status == 400
    assert (
        _status(err.value)["message"]
        == "specifying resource version is not allowed when using continue"
    )
    with pytest.raises(ApiException) as bad:
        v1.list_namespaced_pod("default", limit=1, _continue="not-a-token")
    assert bad.value.status == 400


def test_resource_version_match_without_a_resource_version_is_invalid(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _populate(sim, 1)
    with pytest.raises(ApiException) as err:
        CoreV1Api(kube_api).list_namespaced_pod("default", resource_version_match="Exact")
    assert err.value.status == 422
    status = _status(err.value)
    assert status["reason"] == "Invalid"
    assert status["details"]["kind"] == "ListOptions"


def test_label_selectors_filter_lists_and_drop_the_remaining_count(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _populate(sim, 6)
    v1 = CoreV1Api(kube_api)
    web = v1.list_pod_for_all_namespaces(label_selector="tier=web")
    assert _names(web.items) == ["p01", "p03", "p05", "elsewhere"]
    not_web = v1.list_namespaced_pod("default", label_selector="tier notin (web)")
    assert _names(not_web.items) == ["p00", "p02", "p04"]
    page = v1.list_namespaced_pod("default", label_selector="tier=web", limit=2)
    assert _names(page.items) == ["p01", "p03"]
    assert page.metadata._continue
    assert page.metadata.remaining_item_count is None
    rest = v1.list_namespaced_pod(
        "default", label_selector="tier=web", limit=2, _continue=page.metadata._continue
    )
    assert _names(rest.items) == ["p05"]


def test_field_selectors_filter_by_name_and_namespace(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    _populate(sim, 3)
    v1 = CoreV1Api(kube_api)
    one = v1.list_pod_for_all_namespaces(field_selector="metadata.name=p01")
    assert _names(one.items) == ["p01"]
    away = v1.list_pod_for_all_namespaces(field_selector="metadata.namespace!=default")
    assert _names(away.items) == ["elsewhere"]


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        ("label_selector", "tier in (web", "unable to parse requirement"),
        ("label_selector", "tier=we b", "unable to parse requirement"),
        ("field_selector", "spec.foo=bar", "field label not supported: spec.foo"),
    ],
)
def test_invalid_selectors_are_a_400_bad_request(
    sim: SimHandle,
    kube_api: kubernetes.client.ApiClient,
    param: str,
    value: str,
    message: str,
) -> None:
    _populate(sim, 1)
    with pytest.raises(ApiException) as err:
        CoreV1Api(kube_api).list_pod_for_all_namespaces(**{param: value})
    assert err.value.status == 400
    status = _status(err.value)
    assert status["reason"] == "BadRequest"
    assert message in status["message"]
