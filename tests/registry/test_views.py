"""Typed views: a dict that fits gives what strict decoding gives; one that does not is viewed by
the total accessors' rule (a value of the wrong type is absent), never an exception."""

from __future__ import annotations

import types
from typing import Any

import msgspec
import msgspec.inspect as mi
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from informer_mirror.registry.transformers import views
from informer_mirror.registry.transformers.common import ConditionView
from informer_mirror.registry.transformers.pods import (
    ContainerStateView,
    ContainerStatusView,
    ContainerView,
    PodIPView,
    PodSpecView,
    PodStatusView,
    StateDetailView,
)
from informer_mirror.registry.transformers.views import view


class Tagged(msgspec.Struct):
    labels: dict[str, str] | None = None
    tags: list[str] | None = None


def test_a_value_of_the_wrong_type_is_absent_and_lists_keep_the_right_elements() -> None:
    status = {
        "phase": 5,
        "podIP": "10.0.0.1",
        "podIPs": [{"ip": "10.0.0.1"}, "junk", {"ip": 3}],
        "conditions": "not a list",
        "containerStatuses": [{"name": "app", "ready": "yes", "restartCount": True}],
    }
    assert view(PodStatusView, status) == PodStatusView(
        podIP="10.0.0.1",
        podIPs=[PodIPView(ip="10.0.0.1"), PodIPView()],
        containerStatuses=[ContainerStatusView(name="app")],
    )
    assert view(Tagged, {"labels": {"a": "1", "b": 2}, "tags": ["x", 1, None, "y"]}) == Tagged(
        labels={"a": "1"}, tags=["x", "y"]
    )
    assert view(Tagged, {"labels": ["a"], "tags": "x"}) == Tagged()


def test_integers_are_not_booleans_or_floats_but_may_be_big() -> None:
    def restarts(value: Any) -> int | None:
        return view(ContainerStatusView, {"restartCount": value, "ready": {}}).restartCount

    assert [restarts(v) for v in (True, 1.0, "3", 3, 2**70)] == [None, None, None, 3, 2**70]


def test_a_state_key_that_is_present_counts_even_when_it_is_null_or_no_object() -> None:
    assert view(ContainerStateView, {}).running is UNSET
    for value in (None, 5, "x"):
        got = view(ContainerStateView, {"running": value, "waiting": {"reason": "r"}})
        assert (got.running, got.waiting) == (None, StateDetailView(reason="r"))


def test_anything_but_a_mapping_is_an_empty_view_and_a_view_is_itself() -> None:
    for value in (None, 3, "spec", [], [{"nodeName": "n"}]):
        assert view(PodSpecView, value) == PodSpecView()
    spec = PodSpecView(nodeName="n")
    assert view(PodSpecView, spec) is spec
    proxy = types.MappingProxyType({"nodeName": "n", "containers": [{"name": "a", "image": 1}]})
    assert view(PodSpecView, proxy) == PodSpecView(
        nodeName="n", containers=[ContainerView(name="a")]
    )


def test_a_view_needs_defaults_and_fields_of_the_kinds_it_knows() -> None:
    class Floats(msgspec.Struct):
        ratio: float | None = None

    class Required(msgspec.Struct):
        name: str

    with pytest.raises(TypeError, match=r"Floats\.ratio"):
        view(Floats, {"ratio": "x"})
    with pytest.raises(TypeError, match=r"Required\.name: a view's fields need defaults"):
        view(Required, {"name": 1})


# --- strict and lenient agree wherever the strict decoder accepts --------------------------------

_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
    st.just([]),
    st.just({}),
    st.just([1, "a"]),
)


def _values(t: mi.Type) -> st.SearchStrategy[Any]:
    """JSON values of type ``t``, now and then one of another type."""
    if isinstance(t, mi.UnionType):
        return st.one_of(*(_values(x) for x in t.types))  # UNSET is absence: not in t.types
    typed: st.SearchStrategy[Any]
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.StrType):
        typed = st.text(max_size=4)
    elif isinstance(t, mi.BoolType):
        typed = st.booleans()
    elif isinstance(t, mi.IntType):
        typed = st.integers(0, 2**63 - 1)  # orjson's range; bigger ones: the test above
    elif isinstance(t, mi.StructType):
        typed = _objects(t.cls)
    elif isinstance(t, mi.ListType):
        typed = st.lists(_values(t.item_type), max_size=3)
    else:
        raise AssertionError(f"no strategy for {t}")
    return st.one_of(typed, typed, typed, _JUNK)


def _objects(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return st.fixed_dictionaries(
        {}, optional={f.encode_name: st.deferred(lambda f=f: _values(f.type)) for f in info.fields}
    )


@pytest.mark.parametrize(
    "cls",
    [PodSpecView, PodStatusView, ContainerStatusView, ConditionView],
    ids=lambda c: c.__name__,
)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_strict_decoding_and_a_lenient_view_agree_where_the_decoder_accepts(
    cls: type[msgspec.Struct], data: st.DataObject
) -> None:
    value = data.draw(_objects(cls))
    walked = views._lenient(cls, value)  # the field-by-field path, not msgspec.convert
    assert view(cls, value) == walked
    try:
        strict = msgspec.json.decode(orjson.dumps(value), type=cls)
    except msgspec.ValidationError:
        return  # a page holding it decodes the general way and is viewed as `walked`
    assert walked == strict
