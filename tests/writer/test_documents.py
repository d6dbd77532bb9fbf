"""Stored documents: the ``_mirror`` stamp, the identity fields every backend indexes, and the
format fingerprint that decides whether start-up reconciliation may skip a document."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from informer_mirror.informer.store import Store
from informer_mirror.registry import ResourceSpec, build_registry
from informer_mirror.registry.transformers.common import TransformOptions
from informer_mirror.settings import ResourcesSettings, Settings
from informer_mirror.writer.documents import (
    MirrorStamp,
    build_upsert,
    document_format,
    synced_at,
)
from tests.backends.support import CLUSTER, REGISTRY, pod, store_of

PODS = REGISTRY["pods"]
STAMP = MirrorStamp.make(cluster=CLUSTER, wall_seconds=1_800_000_000.25, format="f1")


def test_synced_at_is_rfc3339_utc_with_milliseconds() -> None:
    assert synced_at(1_800_000_000.25) == "2027-01-15T08:00:00.250Z"
    assert synced_at(0) == "1970-01-01T00:00:00.000Z"


def test_a_spec_document_gets_the_mirror_stamp_and_is_otherwise_stored_as_cached() -> None:
    (record,) = store_of("pods", [pod("web", "shop", rv="42")]).list_stored()
    up = build_upsert(record, STAMP)
    assert (up.uid, up.namespace, up.name, up.resource_version) == (
        "uid-shop-web",
        "shop",
        "web",
        "42",
    )
    doc = orjson.loads(up.document)
    assert doc.pop("_mirror") == {
        "cluster": CLUSTER,
        "syncedAt": "2027-01-15T08:00:00.250Z",
        "format": "f1",
    }
    assert doc == orjson.loads(record.document)
    assert doc["resourceVersion"] == "42"


def test_a_spec_document_has_one_mirror_field_even_when_its_transformer_sets_one() -> None:
    spec = dataclasses.replace(
        PODS, transformer=lambda _o, _opt: {"phase": "Running", "_mirror": {"cluster": "x"}}
    )
    store = Store(name="pods", transform=spec.transform_for(CLUSTER))
    store.update(pod("web", "shop", rv="42"))
    (record,) = store.list_stored()
    document = build_upsert(record, STAMP).document
    assert document.count(b'"_mirror"') == 1  # orjson.loads would hide a duplicate key
    assert orjson.loads(document)["_mirror"]["cluster"] == CLUSTER


def test_a_stand_in_for_a_failed_transform_is_lifted_to_the_common_shape() -> None:
    def broken(_obj: dict[str, object]) -> dict[str, object]:
        raise RuntimeError("transformer bug")

    store = Store(name="pods", transform=broken)
    store.update(pod("odd", labels={"app": "x"}, rv="7"))
    (record,) = store.list_stored()
    assert record.transform_error
    doc = orjson.loads(build_upsert(record, STAMP).document)
    assert doc["uid"] == "uid-default-odd"
    assert (doc["namespace"], doc["name"], doc["resourceVersion"]) == ("default", "odd", "7")
    assert doc["labels"] == {"app": "x"}
    assert "transformError" in doc
    assert doc["_mirror"]["cluster"] == CLUSTER


def test_a_raw_object_and_a_document_with_its_own_mirror_field_are_normalised() -> None:
    store = Store(name="nodes")  # the default transform keeps the raw object
    raw = {
        "metadata": {"name": "n1", "uid": "u-n1", "resourceVersion": "3"},
        "_mirror": {"cluster": "elsewhere"},
    }
    store.update(raw)
    (record,) = store.list_stored()
    up = build_upsert(record, STAMP)
    doc = orjson.loads(up.document)
    assert (doc["uid"], doc["name"], doc["namespace"]) == ("u-n1", "n1", None)
    assert doc["labels"] == {}
    assert doc["_mirror"]["cluster"] == CLUSTER
    assert up.namespace == ""


def test_the_format_fingerprint_is_stable_and_follows_the_configuration() -> None:
    assert document_format(PODS) == document_format(PODS)
    assert document_format(PODS) != document_format(REGISTRY["nodes"])

    def variant(**kw: object) -> ResourceSpec:
        fields = {
            "name": "pods",
            "group": "",
            "version": "v1",
            "kind": "Pod",
            "namespaced": True,
            "transformer": PODS.transformer,
            "options": PODS.options,
        }
        fields.update(kw)
        return ResourceSpec(**fields)  # type: ignore[arg-type]

    assert document_format(variant()) == document_format(PODS)
    assert document_format(variant(keep_raw=True)) != document_format(PODS)
    deny = PODS.options.annotation_deny_list | {"secret.example/token"}
    options = TransformOptions(annotation_deny_list=deny)
    assert document_format(variant(options=options)) != document_format(PODS)


STRIPPED = tuple(f"example.com/annotation-{i}" for i in range(12))


@pytest.mark.parametrize("seed", ["1", "2", "3"])
def test_the_format_fingerprint_does_not_depend_on_the_hash_seed(seed: str) -> None:
    # set order varies with PYTHONHASHSEED; a fingerprint that followed it would make every
    # restart rewrite every document
    script = (
        "from informer_mirror.registry import build_registry;"
        "from informer_mirror.settings import ResourcesSettings, Settings;"
        "from informer_mirror.writer import document_format;"
        f"resources = ResourcesSettings(strip_annotations={STRIPPED!r});"
        "print(document_format(build_registry(Settings(resources=resources))['pods']))"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    resources = ResourcesSettings(strip_annotations=STRIPPED)
    expected = document_format(build_registry(Settings(resources=resources))["pods"])
    assert out.stdout.strip() == expected
