"""ResourceSpec: the document shape, totality of to_document, failure accounting, validation."""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any

import pytest

from informer_mirror.errors import ConfigError
from informer_mirror.registry.redaction import LAST_APPLIED
from informer_mirror.registry.spec import ResourceSpec, validate_spec
from informer_mirror.registry.transformers.common import COMMON_FIELDS, Doc, Obj, TransformOptions


def widget_fields(obj: Obj, _options: TransformOptions) -> Doc:
    return {"size": obj["spec"]["size"]}


WIDGETS = ResourceSpec(
    name="widgets",
    group="example.com",
    version="v1beta1",
    kind="Widget",
    namespaced=True,
    transformer=widget_fields,
)


def widget(**meta: Any) -> dict[str, Any]:
    """A widget as a list response carries it: no kind, no apiVersion."""
    metadata = {
        "name": "w1",
        "namespace": "shop",
        "uid": "0b7c2f0e-2d1f-4c39-9a57-1f0e9d6a0c11",
        "resourceVersion": "4711",
        "generation": 3,
        "creationTimestamp": "2026-11-20T10:00:00Z",
        "labels": {"app.kubernetes.io/name": "shop"},
        "annotations": {LAST_APPLIED: '{"spec":{"size":1}}\n', "team": "blue"},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "shop-7d9f",
                "uid": "u-rs",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
        "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
    }
    metadata.update(meta)
    return {"metadata": metadata, "spec": {"size": 5}}


def test_a_document_has_the_common_fields_first_then_the_kind_specific_ones() -> None:
    doc = WIDGETS.to_document(widget(), cluster="prod-eu1")
    assert list(doc)[: len(COMMON_FIELDS)] == list(COMMON_FIELDS)
    assert doc == {
        "uid": "0b7c2f0e-2d1f-4c39-9a57-1f0e9d6a0c11",
        "name": "w1",
        "namespace": "shop",
        "labels": {"app.kubernetes.io/name": "shop"},
        "annotations": {"team": "blue"},
        "ownerReferences": [
            {"kind": "ReplicaSet", "name": "shop-7d9f", "uid": "u-rs", "controller": True}
        ],
        "creationTimestamp": "2026-11-20T10:00:00Z",
        "deletionTimestamp": None,
        "resourceVersion": "4711",
        "generation": 3,
        "cluster": "prod-eu1",
        "kind": "Widget",
        "apiVersion": "example.com/v1beta1",
        "size": 5,
    }


def test_kind_and_api_version_come_from_the_spec_not_the_object() -> None:
    obj = widget()
    obj["kind"], obj["apiVersion"] = "Gadget", "other.io/v9"
    doc = WIDGETS.to_document(obj, cluster="c")
    assert (doc["kind"], doc["apiVersion"]) == ("Widget", "example.com/v1beta1")


def test_a_cluster_scoped_object_has_a_null_namespace() -> None:
    obj = widget()
    del obj["metadata"]["namespace"]
    assert WIDGETS.to_document(obj, cluster="c")["namespace"] is None


def test_an_object_being_deleted_keeps_its_deletion_timestamp() -> None:
    doc = WIDGETS.to_document(widget(deletionTimestamp="2026-11-21T00:00:00Z"), cluster="c")
    assert doc["deletionTimestamp"] == "2026-11-21T00:00:00Z"


def test_to_document_does_not_mutate_its_input() -> None:
    obj = widget()
    before = copy.deepcopy(obj)
    WIDGETS.to_document(obj, cluster="c")
    dataclasses.replace(WIDGETS, keep_raw=True).to_document(obj, cluster="c")
    assert obj == before


def test_the_common_metadata_wins_over_a_transformer_that_sets_the_same_field() -> None:
    spec = dataclasses.replace(WIDGETS, transformer=lambda _o, _opt: {"name": "evil", "x": 1})
    doc = spec.to_document(widget(), cluster="c")
    assert (doc["name"], doc["x"]) == ("w1", 1)
    assert list(doc)[: len(COMMON_FIELDS)] == list(COMMON_FIELDS)


def test_a_transformer_cannot_set_the_writers_mirror_field() -> None:
    # the writer appends _mirror to the document's bytes without looking for one
    spec = dataclasses.replace(WIDGETS, transformer=lambda _o, _opt: {"_mirror": "x", "x": 1})
    doc = spec.to_document(widget(), cluster="c")
    assert "_mirror" not in doc
    assert doc["x"] == 1


def test_a_transformer_that_returns_no_dict_is_a_transform_error_that_changes_nothing() -> None:
    spec = dataclasses.replace(WIDGETS, transformer=lambda _o, _opt: [("name", "evil"), 5])
    doc = spec.to_document(widget(), cluster="c")
    assert doc["name"] == "w1"
    assert "TypeError" in doc["transformError"]


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"metadata": None},
        {"metadata": "not a mapping"},
        {"metadata": {"name": 7, "labels": ["a"], "annotations": {"k": 1}, "generation": "3"}},
        {"metadata": {"ownerReferences": [None, "x", {"controller": "yes"}]}},
        [],
        None,
        "a string",
    ],
)
@pytest.mark.parametrize("keep_raw", [False, True])
@pytest.mark.parametrize("redact_values", [False, True])
def test_to_document_is_total_whatever_it_is_given(
    obj: Any, keep_raw: bool, redact_values: bool
) -> None:
    spec = dataclasses.replace(WIDGETS, keep_raw=keep_raw, redact_values=redact_values)
    doc = spec.to_document(obj, cluster="c")
    assert doc["cluster"] == "c"
    assert doc["kind"] == "Widget"
    assert "transformError" in doc  # widget_fields indexes obj["spec"]["size"]
    assert ("raw" in doc) is keep_raw


def test_a_failing_transformer_leaves_the_metadata_and_a_transform_error() -> None:
    spec = dataclasses.replace(WIDGETS)
    obj = widget()
    obj["spec"] = {"colour": "red"}
    doc = spec.to_document(obj, cluster="c")
    assert doc["name"] == "w1"
    assert doc["resourceVersion"] == "4711"
    assert "size" not in doc
    assert doc["transformError"].startswith("KeyError in widget_fields (test_spec.py:")
    assert spec.failures.counts() == {"KeyError": 1}


def test_a_transform_error_never_carries_the_exception_message() -> None:
    def leaky(obj: Obj, _options: TransformOptions) -> Doc:
        raise ValueError(f"bad value {obj['spec']['token']!r}")

    spec = dataclasses.replace(WIDGETS, transformer=leaky)
    obj = widget()
    obj["spec"]["token"] = "hunter2-very-secret"
    doc = spec.to_document(obj, cluster="c")
    assert "hunter2" not in repr(doc)
    assert doc["transformError"].startswith("ValueError in leaky")


def test_a_failure_is_logged_once_per_key_and_reason_and_counted_every_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = dataclasses.replace(WIDGETS)
    broken = widget()
    broken["spec"] = None
    other = widget(name="w2")
    other["spec"] = None
    with caplog.at_level(logging.WARNING, logger="informer_mirror.registry"):
        for obj in (broken, broken, broken, other):
            spec.to_document(obj, cluster="c")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("widgets shop/w1: transformer failed (TypeError in widget_fields")
    assert messages[1].startswith("widgets shop/w2: ")
    assert spec.failures.counts() == {"TypeError": 4}
    assert spec.failures.total == 4


def test_each_spec_built_gets_its_own_failure_tally() -> None:
    a = dataclasses.replace(WIDGETS)
    b = dataclasses.replace(WIDGETS)
    a.to_document({}, cluster="c")
    assert a.failures.total == 1
    assert b.failures.total == 0


def test_keep_raw_stores_the_object_without_managed_fields_or_denied_annotations() -> None:
    spec = dataclasses.replace(WIDGETS, keep_raw=True)
    doc = spec.to_document(widget(), cluster="c")
    raw = doc["raw"]
    assert raw["spec"] == {"size": 5}
    assert "managedFields" not in raw["metadata"]
    assert raw["metadata"]["annotations"] == {"team": "blue"}
    assert raw["metadata"]["uid"] == doc["uid"]


def test_raw_is_absent_by_default() -> None:
    assert "raw" not in WIDGETS.to_document(widget(), cluster="c")


def test_the_annotation_deny_list_comes_from_the_options() -> None:
    options = TransformOptions(annotation_deny_list=frozenset({LAST_APPLIED, "team"}))
    spec = dataclasses.replace(WIDGETS, options=options)
    assert spec.to_document(widget(), cluster="c")["annotations"] == {}


def test_transform_for_binds_the_cluster_name() -> None:
    transform = WIDGETS.transform_for("prod-eu1")
    assert transform(widget()) == WIDGETS.to_document(widget(), cluster="prod-eu1")


def test_identity_properties_match_the_kinds_table_shape() -> None:
    assert WIDGETS.api_version == "example.com/v1beta1"
    info = WIDGETS.kind_info
    assert (info.plural, info.singular, info.kind, info.namespaced) == (
        "widgets",
        "widget",
        "Widget",
        True,
    )
    assert info.path("shop") == "/apis/example.com/v1beta1/namespaces/shop/widgets"
    assert WIDGETS.collection == "widgets"


def test_the_collection_name_is_derived_from_a_dashed_name() -> None:
    spec = dataclasses.replace(WIDGETS, name="blue-widgets", collection="")
    assert spec.collection == "blue_widgets"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Widgets"}, "resources.custom[3].name: must be a lower-case plural"),
        ({"name": "status"}, "resources.custom[3].name: 'status' collides with the API path"),
        ({"name": "namespaces"}, "/api/v1/namespaces"),
        ({"group": "Example.COM"}, "resources.custom[3].group: must be a DNS subdomain"),
        ({"version": "1"}, "resources.custom[3].version: must look like v1, v1beta1"),
        ({"kind": "widget"}, "resources.custom[3].kind: must be CamelCase"),
        ({"icon": ""}, "resources.custom[3].icon:"),
        ({"collection": "sqlite_master"}, "resources.custom[3].collection:"),
        ({"collection": "_meta"}, "resources.custom[3].collection:"),
        ({"indexes": (("phase; drop table",),)}, "resources.custom[3].indexes[0]:"),
        ({"indexes": ((),)}, "resources.custom[3].indexes[0]:"),
        ({"resync_period": -1.0}, "resources.custom[3].resync_period: must be >= 0"),
        ({"resync_period": float("nan")}, "resources.custom[3].resync_period"),
    ],
)
def test_a_malformed_spec_is_a_config_error_naming_the_field(
    change: dict[str, Any], message: str
) -> None:
    spec = dataclasses.replace(WIDGETS, source="resources.custom[3]", **change)
    with pytest.raises(ConfigError, match=None) as exc:
        validate_spec(spec)
    assert message in str(exc.value)


def test_the_exact_message_for_a_name_colliding_with_an_api_path() -> None:
    spec = dataclasses.replace(WIDGETS, name="status", source="resources.custom[0]")
    with pytest.raises(ConfigError) as exc:
        validate_spec(spec)
    assert str(exc.value) == (
        "resources.custom[0].name: 'status' collides with the API path /api/v1/status"
    )


def test_only_the_core_namespace_kind_may_be_called_namespaces() -> None:
    core_ns = ResourceSpec(
        name="namespaces", group="", version="v1", kind="Namespace", namespaced=False
    )
    validate_spec(core_ns)


def test_a_builtin_spec_names_itself_in_errors() -> None:
    spec = dataclasses.replace(WIDGETS, version="x")
    with pytest.raises(ConfigError, match=r"^builtin\[widgets\]\.version: "):
        validate_spec(spec)
