"""build_registry: built-ins from the kinds table, custom resources, selection, scopes, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from informer_mirror.errors import ConfigError
from informer_mirror.kinds import BUILTIN_KINDS
from informer_mirror.registry import Registry, WatchScope, build_registry
from informer_mirror.registry.builtin import BUILTIN_ENTRIES
from informer_mirror.registry.redaction import LAST_APPLIED
from informer_mirror.registry.spec import ResourceSpec
from informer_mirror.settings import Settings, parse_settings

CERTIFICATES = {
    "name": "certificates",
    "group": "cert-manager.io",
    "version": "v1",
    "kind": "Certificate",
    "namespaced": True,
    "icon": "🔐",
    "fields": {"ready": "status.conditions[?type=='Ready'].status", "secret": "spec.secretName"},
}


def settings_from(text: str, tmp_path: Path) -> Settings:
    return parse_settings(yaml.safe_load(text), env={}, base_dir=tmp_path)


def registry_from(resources: dict[str, Any], tmp_path: Path) -> Registry:
    data = {"cluster": {"name": "prod-eu1"}, "resources": resources}
    return build_registry(parse_settings(data, env={}, base_dir=tmp_path))


def config_error(resources: dict[str, Any], tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as exc:
        registry_from(resources, tmp_path)
    return str(exc.value)


def test_the_default_registry_has_every_builtin_kind_in_table_order() -> None:
    registry = build_registry(Settings())
    assert [(s.group, s.version, s.name, s.kind, s.namespaced) for s in registry] == [
        (k.group, k.version, k.plural, k.kind, k.namespaced) for k in BUILTIN_KINDS
    ]
    assert len(registry) >= 20
    assert len(BUILTIN_ENTRIES) == len(BUILTIN_KINDS)


def test_builtin_identity_matches_the_kinds_table_exactly() -> None:
    for spec in build_registry(Settings()):
        info = next(k for k in BUILTIN_KINDS if k.plural == spec.name)
        assert spec.api_version == info.api_version
        assert spec.kind_info.path("ns") == info.path("ns")
        assert spec.kind_info.list_kind == info.list_kind


def test_every_builtin_spec_has_an_icon_a_collection_and_valid_indexes() -> None:
    registry = build_registry(Settings())
    assert len({s.collection for s in registry}) == len(registry)
    assert all(s.icon for s in registry)
    pods = registry["pods"]
    assert pods.indexes == (("namespace", "phase"), ("nodeName", "phase"))
    assert registry["secrets"].redact_values
    assert not any(s.redact_values for s in registry if s.name != "secrets")


def test_the_registry_reads_like_a_mapping_of_names() -> None:
    registry = build_registry(Settings())
    assert "pods" in registry
    assert "widgets" not in registry
    assert registry.get("widgets") is None
    assert registry["pods"] is registry.get("pods")
    assert registry.names[0] == "namespaces"
    assert registry.specs == tuple(registry)
    with pytest.raises(KeyError):
        registry["widgets"]


def test_documents_carry_the_configured_cluster_name(tmp_path: Path) -> None:
    registry = registry_from({}, tmp_path)
    doc = registry.to_document("namespaces", {"metadata": {"name": "shop", "uid": "u"}})
    assert doc["cluster"] == "prod-eu1"
    assert registry.transform_for("namespaces")({"metadata": {"name": "x"}})["cluster"] == (
        "prod-eu1"
    )


def test_include_selects_by_name_in_registry_order(tmp_path: Path) -> None:
    registry = registry_from({"include": ["services", "pods"]}, tmp_path)
    assert registry.names == ("pods", "services")


def test_all_with_exclude_drops_only_the_excluded(tmp_path: Path) -> None:
    registry = registry_from({"include": ["all"], "exclude": ["secrets", "events"]}, tmp_path)
    assert "secrets" not in registry
    assert "events" not in registry
    assert len(registry) == len(BUILTIN_KINDS) - 2


@pytest.mark.parametrize("key", ["include", "exclude"])
def test_an_unknown_name_is_an_error_listing_the_known_ones(key: str, tmp_path: Path) -> None:
    message = config_error({key: ["pods", "pod"]}, tmp_path)
    assert message.startswith(f"resources.{key}[1]: unknown resource 'pod' (did you mean 'pods'?)")
    assert "known resources: configmaps, cronjobs, daemonsets, deployments," in message


def test_an_override_for_an_unknown_name_is_an_error(tmp_path: Path) -> None:
    message = config_error({"overrides": {"widgets": {"resync_period": 5}}}, tmp_path)
    assert message.startswith("resources.overrides.widgets: unknown resource 'widgets'")


def test_a_custom_resource_name_counts_as_known(tmp_path: Path) -> None:
    registry = registry_from({"custom": [CERTIFICATES], "include": ["certificates"]}, tmp_path)
    assert registry.names == ("certificates",)


def test_overrides_set_selectors_resync_and_raw_per_resource(tmp_path: Path) -> None:
    registry = registry_from(
        {
            "resync_period": 300,
            "overrides": {
                "pods": {
                    "label_selector": "app=web",
                    "field_selector": "status.phase!=Succeeded",
                    "resync_period": 0,
                    "keep_raw": True,
                }
            },
        },
        tmp_path,
    )
    pods, services = registry["pods"], registry["services"]
    assert (pods.label_selector, pods.field_selector) == ("app=web", "status.phase!=Succeeded")
    assert (pods.resync_period, pods.keep_raw) == (0, True)
    assert (services.resync_period, services.keep_raw, services.label_selector) == (
        300,
        False,
        None,
    )
    assert registry.scope("pods") == WatchScope(
        label_selector="app=web", field_selector="status.phase!=Succeeded"
    )
    assert "raw" in registry.to_document("pods", {"metadata": {"name": "p"}})


def test_custom_resources_follow_the_builtins_with_their_own_options(tmp_path: Path) -> None:
    custom = {**CERTIFICATES, "resync_period": 60, "label_selector": "team=a", "keep_raw": True}
    registry = registry_from({"custom": [custom]}, tmp_path)
    assert registry.names[-1] == "certificates"
    spec = registry["certificates"]
    assert (spec.api_version, spec.kind, spec.icon) == ("cert-manager.io/v1", "Certificate", "🔐")
    assert (spec.resync_period, spec.label_selector, spec.keep_raw) == (60, "team=a", True)
    assert spec.source == "resources.custom[0]"


def test_a_custom_resource_document_holds_its_extracted_fields(tmp_path: Path) -> None:
    registry = registry_from({"custom": [CERTIFICATES]}, tmp_path)
    obj = {
        "metadata": {"name": "web", "namespace": "shop", "uid": "u1"},
        "spec": {"secretName": "web-tls"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    doc = registry.to_document("certificates", obj)
    assert (doc["ready"], doc["secret"], doc["kind"]) == ("True", "web-tls", "Certificate")
    assert registry.to_document("certificates", {"metadata": {"name": "x"}})["ready"] is None


def test_a_custom_resource_without_an_icon_gets_the_default_one(tmp_path: Path) -> None:
    entry = {k: v for k, v in CERTIFICATES.items() if k != "icon"}
    assert registry_from({"custom": [entry]}, tmp_path)["certificates"].icon == "🧩"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"name": "status"},
            "resources.custom[0].name: 'status' collides with the API path /api/v1/status",
        ),
        ({"name": "metrics"}, "resources.custom[0].name: 'metrics' collides with the API path"),
        ({"name": "namespace"}, "resources.custom[0].name: 'namespace' collides"),
        (
            {"name": "pods"},
            "resources.custom[0].name: 'pods' is already the name of the built-in resource 'pods'",
        ),
        (
            {"name": "ings", "group": "networking.k8s.io", "kind": "Ingress"},
            "resources.custom[0].kind: Ingress of group 'networking.k8s.io' is already mirrored",
        ),
        (
            {"fields": {"ready": "status.conditions[?type=='Ready'.status"}},
            "resources.custom[0].fields.ready: expected ']' at position 33",
        ),
        (
            {"fields": {"name": "spec.commonName"}},
            "resources.custom[0].fields.name: 'name' is a field every document already has",
        ),
        (
            {"fields": {"transformError": "spec.x"}},
            "resources.custom[0].fields.transformError:",
        ),
    ],
)
def test_a_bad_custom_resource_is_a_config_error_naming_its_field(
    change: dict[str, Any], message: str, tmp_path: Path
) -> None:
    assert config_error({"custom": [{**CERTIFICATES, **change}]}, tmp_path).startswith(message)


def test_a_bad_custom_resource_is_an_error_even_when_not_selected(tmp_path: Path) -> None:
    message = config_error(
        {"custom": [{**CERTIFICATES, "name": "status"}], "include": ["pods"]}, tmp_path
    )
    assert message.startswith("resources.custom[0].name:")


def test_the_second_custom_entry_is_named_in_errors(tmp_path: Path) -> None:
    issuers = {**CERTIFICATES, "name": "issuers", "kind": "Issuer", "fields": {"x": "spec["}}
    message = config_error({"custom": [CERTIFICATES, issuers]}, tmp_path)
    assert message.startswith("resources.custom[1].fields.x: ")


def test_duplicate_names_in_a_hand_built_registry_are_rejected() -> None:
    spec = ResourceSpec(
        name="widgets", group="example.com", version="v1", kind="Widget", namespaced=True
    )
    other = ResourceSpec(
        name="widgets",
        group="example.com",
        version="v1",
        kind="Gadget",
        namespaced=True,
        source="x",
    )
    with pytest.raises(ConfigError, match=r"^x\.name: 'widgets' is already the name of"):
        Registry([spec, other])


def test_duplicate_collections_are_rejected() -> None:
    a = ResourceSpec(
        name="widgets", group="example.com", version="v1", kind="Widget", namespaced=True
    )
    b = ResourceSpec(
        name="gadgets",
        group="example.com",
        version="v1",
        kind="Gadget",
        namespaced=True,
        collection="widgets",
        source="y",
    )
    with pytest.raises(ConfigError, match=r"^y\.collection: 'widgets' is already the collection"):
        Registry([a, b])


def test_namespaces_become_one_watch_per_namespace_for_namespaced_kinds(tmp_path: Path) -> None:
    registry = registry_from({"namespaces": ["shop", "payments"]}, tmp_path)
    assert registry.scope("pods").namespaces == ("shop", "payments")
    assert registry.scope("pods").field_selector is None
    assert registry.scope("nodes") == WatchScope()


def test_excluded_namespaces_become_a_server_side_field_selector(tmp_path: Path) -> None:
    registry = registry_from(
        {
            "exclude_namespaces": ["kube-system", "monitoring"],
            "overrides": {"events": {"field_selector": "type!=Normal"}},
        },
        tmp_path,
    )
    assert registry.scope("pods") == WatchScope(
        field_selector="metadata.namespace!=kube-system,metadata.namespace!=monitoring"
    )
    assert registry.scope("events").field_selector == (
        "type!=Normal,metadata.namespace!=kube-system,metadata.namespace!=monitoring"
    )
    assert registry.scope("namespaces") == WatchScope()


def test_a_hand_built_registry_watches_cluster_wide_with_the_specs_selectors() -> None:
    spec = ResourceSpec(
        name="widgets",
        group="example.com",
        version="v1",
        kind="Widget",
        namespaced=True,
        label_selector="a=b",
    )
    assert Registry([spec]).scope("widgets") == WatchScope(label_selector="a=b")


def test_strip_annotations_from_the_settings_reach_every_document(tmp_path: Path) -> None:
    registry = registry_from({"strip_annotations": ["deployment.kubernetes.io/revision"]}, tmp_path)
    annotations = {LAST_APPLIED: "{}", "deployment.kubernetes.io/revision": "3", "keep": "me"}
    doc = registry.to_document(
        "deployments", {"metadata": {"name": "d", "annotations": annotations}}
    )
    assert doc["annotations"] == {"keep": "me"}


def test_last_applied_is_stripped_even_from_settings_built_in_code() -> None:
    settings = Settings()
    resources = type(settings.resources)(strip_annotations=())
    registry = build_registry(type(settings)(resources=resources))
    doc = registry.to_document(
        "pods", {"metadata": {"name": "p", "annotations": {LAST_APPLIED: "x"}}}
    )
    assert doc["annotations"] == {}


def test_describe_lists_what_the_resources_command_prints(tmp_path: Path) -> None:
    registry = registry_from({"custom": [CERTIFICATES], "resync_period": 120}, tmp_path)
    rows = registry.describe()
    assert rows[2] == {
        "name": "pods",
        "apiVersion": "v1",
        "kind": "Pod",
        "namespaced": True,
        "icon": registry["pods"].icon,
        "resyncPeriod": 120,
    }
    assert rows[-1]["name"] == "certificates"


def test_transform_failures_are_reported_per_resource() -> None:
    registry = build_registry(Settings())
    registry.to_document("pods", {"metadata": {"name": "ok"}})
    assert registry.transform_failures() == {}
    bad = ResourceSpec(
        name="widgets",
        group="example.com",
        version="v1",
        kind="Widget",
        namespaced=True,
        transformer=lambda obj, _o: {"x": obj["missing"]},
    )
    hand_built = Registry([bad])
    hand_built.to_document("widgets", {"metadata": {"name": "w"}})
    assert hand_built.transform_failures() == {"widgets": {"KeyError": 1}}
