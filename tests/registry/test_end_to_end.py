"""The registry driving a real informer against the simulated cluster over HTTP.

A custom resource declared in configuration alone is served by the sim (registered at run time),
listed and watched by an Informer whose Store transform is the spec's, and lands in the Store as a
document with the configured fields; a Secret crosses the same path without its values; an
``exclude_namespaces`` scope is applied by the server through its field selector.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from informer_mirror.informer.informer import Informer
from informer_mirror.kube import ApiResource, KubeClient, KubeListerWatcher
from informer_mirror.registry import Registry, build_registry
from informer_mirror.settings import parse_settings
from informer_mirror.sim import SimHandle
from informer_mirror.sim.objects import make_custom
from tests.helpers import wait_until

CONFIG: dict[str, Any] = {
    "cluster": {"name": "sim-eu1"},
    "resources": {
        "exclude_namespaces": ["kube-system"],
        "custom": [
            {
                "name": "certificates",
                "group": "cert-manager.io",
                "version": "v1",
                "kind": "Certificate",
                "namespaced": True,
                "icon": "🔐",
                "fields": {
                    "ready": "status.conditions[?type=='Ready'].status",
                    "secret": "spec.secretName",
                    "firstHost": "spec.dnsNames[0]",
                    "hosts": "spec.dnsNames[*]",
                    "issuer": "spec.issuerRef.name",
                    "partOf": "metadata.labels['app.kubernetes.io/part-of']",
                },
            },
            {
                "name": "clusterissuers",
                "group": "cert-manager.io",
                "version": "v1",
                "kind": "ClusterIssuer",
                "namespaced": False,
                "fields": {"server": "spec.acme.server"},
            },
        ],
    },
}


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return build_registry(parse_settings(CONFIG, env={}, base_dir=tmp_path))


@contextmanager
def running_informer(registry: Registry, name: str, kubeconfig: Path) -> Iterator[Informer]:
    """An informer for resource ``name`` as the daemon would build it from the registry."""
    spec, scope = registry[name], registry.scope(name)
    client = KubeClient.from_kubeconfig(kubeconfig)
    lister_watcher = KubeListerWatcher(
        client,
        ApiResource.from_kind(spec.kind_info),
        label_selector=scope.label_selector,
        field_selector=scope.field_selector,
    )
    informer = Informer(
        name=name, lister_watcher=lister_watcher, transform=registry.transform_for(name)
    )
    informer.start()
    try:
        assert informer.wait_for_sync(timeout=10), f"{name} informer did not sync"
        yield informer
    finally:
        informer.stop()
        assert informer.join(timeout=10)
        client.close()


def certificate(sim: SimHandle, name: str, *, ready: str) -> dict[str, Any]:
    kind = sim.state.kind("certificates", "cert-manager.io")
    return make_custom(
        kind,
        random.Random(name),
        namespace="shop",
        name=name,
        spec={
            "secretName": f"{name}-tls",
            "dnsNames": [f"{name}.example.com", f"www.{name}.example.com"],
            "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"},
        },
        status={
            "conditions": [
                {"type": "Issuing", "status": "False"},
                {"type": "Ready", "status": ready},
            ]
        },
    )


def test_a_custom_resource_from_config_is_mirrored_with_its_extracted_fields(
    sim: SimHandle, kubeconfig: Path, registry: Registry
) -> None:
    sim.state.register_kind(registry["certificates"].kind_info)
    sim.state.create("namespaces", {"metadata": {"name": "shop"}})
    sim.state.create("certificates", certificate(sim, "web", ready="True"))
    sim.state.create("certificates", certificate(sim, "api", ready="False"))

    with running_informer(registry, "certificates", kubeconfig) as informer:
        web = informer.store.get_by_key("shop/web")
        assert web is not None
        assert {k: web[k] for k in ("ready", "secret", "firstHost", "issuer", "partOf")} == {
            "ready": "True",
            "secret": "web-tls",
            "firstHost": "web.example.com",
            "issuer": "letsencrypt",
            "partOf": "certificate",
        }
        assert list(web["hosts"]) == ["web.example.com", "www.web.example.com"]
        assert (web["kind"], web["apiVersion"], web["cluster"]) == (
            "Certificate",
            "cert-manager.io/v1",
            "sim-eu1",
        )
        assert web["uid"] == sim.state.get("certificates", "shop", "web")["metadata"]["uid"]
        assert "managedFields" not in repr(web)
        assert web["annotations"] == {}  # last-applied stripped

        # a watch event carries the operator's status change into the document
        api = sim.state.get("certificates", "shop", "api")
        api["status"]["conditions"][1]["status"] = "True"
        sim.state.update("certificates", api)
        wait_until(lambda: (informer.store.get_by_key("shop/api") or {}).get("ready") == "True")

        sim.state.delete("certificates", "shop", "web")
        wait_until(lambda: informer.store.get_by_key("shop/web") is None)
    assert registry["certificates"].failures.total == 0


def test_a_cluster_scoped_custom_resource_is_listed_cluster_wide(
    sim: SimHandle, kubeconfig: Path, registry: Registry
) -> None:
    sim.state.register_kind(registry["clusterissuers"].kind_info)
    kind = sim.state.kind("clusterissuers", "cert-manager.io")
    issuer = make_custom(
        kind,
        random.Random(1),
        namespace=None,
        name="letsencrypt",
        spec={"acme": {"server": "https://acme-v02.api.letsencrypt.org/directory"}},
    )
    sim.state.create("clusterissuers", issuer)
    with running_informer(registry, "clusterissuers", kubeconfig) as informer:
        doc = informer.store.get_by_key("letsencrypt")
        assert doc is not None
        assert doc["namespace"] is None
        assert doc["server"] == "https://acme-v02.api.letsencrypt.org/directory"


def test_a_secret_crosses_list_and_watch_without_any_value(
    sim: SimHandle, kubeconfig: Path, registry: Registry
) -> None:
    sim.state.create("namespaces", {"metadata": {"name": "shop"}})
    password = "pa55w0rd-from-the-sim-e2e"
    secret = {
        "metadata": {"name": "db", "namespace": "shop", "annotations": {"note": password}},
        "type": "Opaque",
        "data": {"password": base64.b64encode(password.encode()).decode()},
    }
    sim.state.create("secrets", secret)
    with running_informer(registry, "secrets", kubeconfig) as informer:
        stored = informer.store.get_stored("shop/db")
        assert stored is not None
        assert password.encode() not in stored.document
        assert secret["data"]["password"].encode() not in stored.document
        assert stored.object["sizes"] == {"password": len(password)}

        updated = sim.state.get("secrets", "shop", "db")
        updated["data"]["token"] = base64.b64encode(b"second-secret-value").decode()
        sim.state.update("secrets", updated)
        wait_until(lambda: "token" in informer.store.get_by_key("shop/db")["keys"])  # type: ignore[index]
        document = informer.store.get_stored("shop/db").document  # type: ignore[union-attr]
        assert b"second-secret-value" not in document
        assert updated["data"]["token"].encode() not in document


def test_excluded_namespaces_are_filtered_by_the_server(
    sim: SimHandle, kubeconfig: Path, registry: Registry
) -> None:
    assert registry.scope("configmaps").field_selector == "metadata.namespace!=kube-system"
    for namespace in ("shop", "kube-system"):
        sim.state.create("namespaces", {"metadata": {"name": namespace}})
        sim.state.create("configmaps", {"metadata": {"name": "settings", "namespace": namespace}})
    with running_informer(registry, "configmaps", kubeconfig) as informer:
        assert informer.store.list_keys() == ["shop/settings"]
        sim.state.create("configmaps", {"metadata": {"name": "late", "namespace": "kube-system"}})
        sim.state.create("configmaps", {"metadata": {"name": "late", "namespace": "shop"}})
        wait_until(lambda: "shop/late" in informer.store.list_keys())
        assert "kube-system/late" not in informer.store.list_keys()
