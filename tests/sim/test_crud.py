"""get, create (POST), replace (PUT) and delete (DELETE) over real HTTP with the official client."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest
from kubernetes.client import AppsV1Api, CoreV1Api
from kubernetes.client.rest import ApiException

from informer_mirror.sim import SimHandle
from tests.helpers import deployment_obj, namespace_obj, pod_obj


def _status(err: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(err.body)
    return body


@pytest.fixture
def v1(sim: SimHandle, kube_api: kubernetes.client.ApiClient) -> CoreV1Api:
    sim.state.create("namespaces", namespace_obj("default"))
    return CoreV1Api(kube_api)


def test_create_returns_201_with_server_set_fields_and_get_reads_it_back(v1: CoreV1Api) -> None:
    created, code, _headers = v1.create_namespaced_pod_with_http_info("default", pod_obj("web"))
    assert code == 201
    assert created.metadata.uid
    assert created.metadata.generation == 1
    assert created.metadata.resource_version
    read = v1.read_namespaced_pod("web", "default")
    assert read.metadata.uid == created.metadata.uid
    assert read.kind == "Pod"


def test_create_takes_the_namespace_from_the_url(sim: SimHandle, v1: CoreV1Api) -> None:
    pod = pod_obj("web")
    del pod["metadata"]["namespace"]
    v1.create_namespaced_pod("default", pod)
    assert sim.state.get("pods", "default", "web")["metadata"]["namespace"] == "default"


def test_creating_twice_is_a_409_already_exists(v1: CoreV1Api) -> None:
    v1.create_namespaced_pod("default", pod_obj("web"))
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_pod("default", pod_obj("web"))
    assert err.value.status == 409
    status = _status(err.value)
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'pods "web" already exists'
    assert status["details"] == {"name": "web", "kind": "pods"}


def test_creating_in_a_missing_namespace_is_a_404(v1: CoreV1Api) -> None:
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_pod("nowhere", pod_obj("web", namespace="nowhere"))
    assert err.value.status == 404
    assert _status(err.value)["message"] == 'namespaces "nowhere" not found'


def test_a_body_namespace_that_contradicts_the_url_is_a_400(v1: CoreV1Api) -> None:
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_pod("default", pod_obj("web", namespace="other"))
    assert err.value.status == 400


def test_reading_a_missing_object_is_a_404_not_found_status(
    kube_api: kubernetes.client.ApiClient, v1: CoreV1Api
) -> None:
    with pytest.raises(ApiException) as err:
        AppsV1Api(kube_api).read_namespaced_deployment("ghost", "default")
    assert err.value.status == 404
    assert _status(err.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "ghost" not found',
        "reason": "NotFound",
        "details": {"name": "ghost", "group": "apps", "kind": "deployments"},
        "code": 404,
    }


def test_replace_bumps_the_resource_version_and_rejects_a_stale_one(
    kube_api: kubernetes.client.ApiClient, v1: CoreV1Api
) -> None:
    apps = AppsV1Api(kube_api)
    created = apps.create_namespaced_deployment("default", deployment_obj("web"))
    created.spec.replicas = 3
    replaced = apps.replace_namespaced_deployment("web", "default", created)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    assert replaced.metadata.generation == 2
    assert replaced.spec.replicas == 3
    created.spec.replicas = 5  # still carries the old resourceVersion
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment("web", "default", created)
    assert err.value.status == 409
    assert _status(err.value)["reason"] == "Conflict"


def test_replacing_a_missing_object_is_a_404(v1: CoreV1Api) -> None:
    with pytest.raises(ApiException) as err:
        v1.replace_namespaced_pod("ghost", "default", pod_obj("ghost"))
    assert err.value.status == 404


def test_replace_with_a_name_that_contradicts_the_url_is_a_400(v1: CoreV1Api) -> None:
    v1.create_namespaced_pod("default", pod_obj("web"))
    with pytest.raises(ApiException) as err:
        v1.replace_namespaced_pod("web", "default", pod_obj("other"))
    assert err.value.status == 400


def test_delete_returns_the_object_and_a_second_delete_is_a_404(v1: CoreV1Api) -> None:
    v1.create_namespaced_pod("default", pod_obj("web"))
    deleted = v1.delete_namespaced_pod("web", "default")
    assert deleted.metadata.name == "web"
    with pytest.raises(ApiException) as err:
        v1.delete_namespaced_pod("web", "default")
    assert err.value.status == 404


def test_deleting_an_object_with_finalizers_is_accepted_and_keeps_it_terminating(
    v1: CoreV1Api,
) -> None:
    pod = pod_obj("web")
    pod["metadata"]["finalizers"] = ["example.com/cleanup"]
    v1.create_namespaced_pod("default", pod)
    _body, code, _headers = v1.delete_namespaced_pod_with_http_info("web", "default")
    assert code == 202
    assert v1.read_namespaced_pod("web", "default").metadata.deletion_timestamp is not None


def test_cluster_scoped_objects_live_outside_namespaces(sim: SimHandle, v1: CoreV1Api) -> None:
    v1.create_namespace(namespace_obj("team-a", team="a"))
    assert sim.state.get("namespaces", None, "team-a")["metadata"]["labels"] == {"team": "a"}
    v1.create_namespaced_pod("team-a", pod_obj("web", namespace="team-a"))
    v1.delete_namespace("team-a")
    assert v1.list_pod_for_all_namespaces().items == []
