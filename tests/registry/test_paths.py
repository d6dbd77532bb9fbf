"""The custom-resource field path syntax: what it extracts, what it rejects, that it is total."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from informer_mirror.errors import ConfigError
from informer_mirror.registry.paths import compile_path

CERT: dict[str, Any] = {
    "metadata": {"name": "web-tls", "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {
        "secretName": "web-tls-secret",
        "dnsNames": ["a.example.com", "b.example.com"],
        "containers": [{"image": "nginx:1.27"}, {"image": "envoy:1.30", "ports": [{"n": 1}]}],
    },
    "status": {
        "conditions": [
            {"type": "Issuing", "status": "False"},
            {"type": "Ready", "status": "True", "observedGeneration": 3},
        ],
        "enabled": True,
        "count": 1,
    },
}


def extract(path: str, obj: Any = CERT) -> Any:
    return compile_path(path, where="resources.custom[0].fields.x").extract(obj)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("spec.secretName", "web-tls-secret"),
        ("spec.dnsNames[0]", "a.example.com"),
        ("spec.dnsNames[-1]", "b.example.com"),
        ("spec.containers[1].image", "envoy:1.30"),
        ("metadata.labels['app.kubernetes.io/name']", "web"),
        ('metadata.labels["app.kubernetes.io/name"]', "web"),
        ("status.conditions[?type=='Ready'].status", "True"),
        ('status.conditions[?type=="Issuing"].status', "False"),
        ("status.conditions[?observedGeneration==3].type", "Ready"),
        ("spec.containers[*].image", ["nginx:1.27", "envoy:1.30"]),
        ("spec.containers[*].ports[0].n", [1]),
        ("status.enabled", True),
        ("spec", CERT["spec"]),
    ],
)
def test_a_path_extracts_the_value_it_names(path: str, expected: Any) -> None:
    assert extract(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "spec.missing",
        "spec.secretName.deeper",
        "spec.dnsNames[2]",
        "spec.dnsNames[-3]",
        "spec.secretName[0]",
        "spec[0]",
        "status.conditions[?type=='Gone'].status",
        "metadata.labels['absent']",
    ],
)
def test_a_path_to_nothing_gives_none(path: str) -> None:
    assert extract(path) is None


def test_a_wildcard_path_to_nothing_gives_an_empty_list() -> None:
    assert extract("spec.missing[*].image") == []
    assert extract("spec.containers[*].missing") == []


def test_a_filter_on_true_does_not_match_the_number_one() -> None:
    obj = {"items": [{"flag": 1, "v": "number"}, {"flag": True, "v": "boolean"}]}
    assert extract("items[?flag==true].v", obj) == "boolean"
    assert extract("items[?flag==1].v", obj) == "number"


def test_a_filter_may_look_into_a_nested_field() -> None:
    obj = {"items": [{"meta": {"name": "a"}, "v": 1}, {"meta": {"name": "b"}, "v": 2}]}
    assert extract("items[?meta.name=='b'].v", obj) == 2


def test_a_filter_compares_with_null() -> None:
    obj = {"items": [{"x": 1, "v": "has x"}, {"v": "no x"}]}
    assert extract("items[?x==null].v", obj) == "no x"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "empty path"),
        ("spec..name", "expected a key after '.' at position 6"),
        ("spec.containers[0.image", "expected ']' at position 18"),
        ("status.conditions[?type='Ready'].status", "expected '=='"),
        ("status.conditions[?type=='Ready.status", "unterminated quoted string"),
        ("spec.x[?==1]", "expected a field name after '?'"),
        ("spec.x[abc]", "expected an index, '*', '?field==value' or a quoted key"),
        ("0spec", "expected a key at position 1"),
        ("spec name", "expected '.' or '['"),
        ("spec.x[?a==maybe]", "expected a quoted string, an integer, true, false or null"),
    ],
)
def test_a_malformed_path_is_a_config_error_naming_the_field_and_position(
    path: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        compile_path(path, where="resources.custom[2].fields.ready")
    message = str(exc.value)
    assert message.startswith("resources.custom[2].fields.ready: ")
    assert problem in message
    assert repr(path) in message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["spec", "a", "b", "type", "items", "0"]), children, max_size=4
        )
    ),
    max_leaves=20,
)

PATHS = [
    "spec.a",
    "spec.a[0].b",
    "spec.a[-1]",
    "items[*].a",
    "items[?type=='a'].b",
    "items[?type==0].b",
    "spec['a'].items[*].b[*]",
]


@given(obj=json_values, path=st.sampled_from(PATHS))
def test_extraction_never_raises_whatever_the_object(obj: Any, path: str) -> None:
    result = extract(path, obj)
    if "[*]" in path:
        assert isinstance(result, list)
