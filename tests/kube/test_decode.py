"""Lean decoding of built-in kinds: the same dicts orjson makes, without managedFields, for
every built-in kind the simulated cluster makes; anything off the schema decodes whole."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from informer_mirror.kinds import BUILTIN_KINDS
from informer_mirror.kube.decode import decode_event, decode_list
from informer_mirror.sim.objects import populate
from informer_mirror.sim.state import ClusterState


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
    return {**obj, "metadata": meta}


@pytest.fixture(scope="module")
def cluster() -> ClusterState:
    state = ClusterState()
    populate(state, 2000, random.Random(3), clock=lambda: 1_700_000_000.0)
    return state


@pytest.mark.parametrize("plural", sorted({k.plural for k in BUILTIN_KINDS}))
def test_every_built_in_kind_decodes_lean_into_what_orjson_makes_minus_managed_fields(
    cluster: ClusterState, plural: str
) -> None:
    objects = cluster.list_objects(plural)
    assert objects, f"the simulated cluster has no {plural}"
    assert any("managedFields" in o["metadata"] for o in objects), "nothing to leave out"
    body = orjson.dumps(
        {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}, "items": objects}
    )
    lean = decode_list(body, lean=True)
    assert lean["items"] == [_without_managed_fields(o) for o in objects]
    assert lean["metadata"] == {"resourceVersion": "7"}
    line = orjson.dumps({"type": "MODIFIED", "object": objects[0]})
    assert decode_event(line, lean=True) == {
        "type": "MODIFIED",
        "object": _without_managed_fields(objects[0]),
    }


def test_without_lean_every_field_is_kept() -> None:
    obj = {"metadata": {"name": "a", "managedFields": [{"manager": "kubectl"}]}, "spec": {}}
    body = orjson.dumps({"items": [obj], "topLevelOfACustomResource": 1})
    assert orjson.loads(body) == decode_list(body, lean=False)


def test_a_status_error_event_keeps_what_the_reflector_reads() -> None:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "too old resource version: 1 (7)",
        "reason": "Expired",
        "code": 410,
        "details": {"causes": []},
    }
    line = orjson.dumps({"type": "ERROR", "object": status})
    assert decode_event(line, lean=True) == {"type": "ERROR", "object": status}


@pytest.mark.parametrize(
    "body",
    [
        b'{"items": ["not an object"]}',
        b'{"items": [{"metadata": "not an object"}]}',
        b'{"items": null, "metadata": {}}',
        b"[1, 2]",
    ],
)
def test_a_body_off_the_schema_decodes_whole_as_orjson_would(body: bytes) -> None:
    assert decode_list(body, lean=True) == orjson.loads(body)


def test_a_body_that_is_not_json_raises_orjsons_error() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        decode_list(b'{"items": [', lean=True)
    with pytest.raises(orjson.JSONDecodeError):
        decode_event(b"garbage", lean=True)
