"""Discovery documents and custom kinds, through the official client's own discovery calls."""

from __future__ import annotations

import kubernetes
from kubernetes.client import (
    ApisApi,
    AppsV1Api,
    CoreApi,
    CoreV1Api,
    CustomObjectsApi,
    VersionApi,
)

from informer_mirror.kinds import BUILTIN_KINDS, KindInfo
from informer_mirror.sim import SimHandle
from tests.helpers import namespace_obj

WIDGETS = KindInfo(
    group="example.com",
    version="v1alpha1",
    plural="widgets",
    singular="widget",
    kind="Widget",
    namespaced=True,
    short_names=("wd",),
)


def test_version_reports_a_kubernetes_release(kube_api: kubernetes.client.ApiClient) -> None:
    info = VersionApi(kube_api).get_code()
    assert info.major == "1"
    assert int(info.minor) >= 30
    assert info.git_version.startswith(f"v1.{info.minor}.")


def test_core_discovery_lists_every_core_kind_with_its_verbs(
    kube_api: kubernetes.client.ApiClient,
) -> None:
    assert CoreApi(kube_api).get_api_versions().versions == ["v1"]
    resources = {r.name: r for r in CoreV1Api(kube_api).get_api_resources().resources}
    core = [k for k in BUILTIN_KINDS if k.group == ""]
    assert set(resources) == {k.plural for k in core}
    pods = resources["pods"]
    assert (pods.kind, pods.namespaced, pods.singular_name) == ("Pod", True, "pod")
    assert pods.short_names == ["po"]
    assert {"get", "list", "watch", "create", "update", "delete"} <= set(pods.verbs)
    assert resources["nodes"].namespaced is False


def test_group_discovery_lists_every_named_group_and_its_resources(
    kube_api: kubernetes.client.ApiClient,
) -> None:
    groups = {g.name: g for g in ApisApi(kube_api).get_api_versions().groups}
    assert set(groups) == {k.group for k in BUILTIN_KINDS if k.group}
    assert groups["autoscaling"].preferred_version.group_version == "autoscaling/v2"
    apps = {r.name for r in AppsV1Api(kube_api).get_api_resources().resources}
    assert apps == {"deployments", "statefulsets", "daemonsets", "replicasets"}


def test_a_custom_kind_registered_at_run_time_is_discovered_and_served(
    sim: SimHandle, kube_api: kubernetes.client.ApiClient
) -> None:
    sim.state.create("namespaces", namespace_obj("default"))
    sim.state.register_kind(WIDGETS)
    groups = {g.name for g in ApisApi(kube_api).get_api_versions().groups}
    assert "example.com" in groups
    custom = CustomObjectsApi(kube_api)
    body = {
        "apiVersion": "example.com/v1alpha1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 3},
    }
    created = custom.create_namespaced_custom_object(
        "example.com", "v1alpha1", "default", "widgets", body
    )
    assert created["metadata"]["uid"]
    listed = custom.list_cluster_custom_object("example.com", "v1alpha1", "widgets")
    assert listed["kind"] == "WidgetList"
    assert [w["metadata"]["name"] for w in listed["items"]] == ["w1"]
