"""Label and field selector parsing and matching, against the real apiserver's grammar."""

from __future__ import annotations

import pytest

from informer_mirror.kinds import BUILTIN_BY_PLURAL
from informer_mirror.sim.selectors import (
    Selector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
    selectable_fields,
    supported_fields,
)

LABELS = {"app": "web", "tier": "frontend", "app.kubernetes.io/name": "shop", "replicas": "3"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=api", False),
        ("app!=api", True),
        ("missing!=x", True),
        ("app in (web,api)", True),
        ("app in (api)", False),
        ("app notin (api, db)", True),
        ("missing notin (a)", True),
        ("tier", True),
        ("missing", False),
        ("!missing", True),
        ("!tier", False),
        ("app=web,tier=frontend", True),
        ("app=web, tier=backend", False),
        ("app.kubernetes.io/name=shop", True),
        ("replicas>2", True),
        ("replicas<3", False),
        ("app>2", False),
        (" app = web ", True),
        ("app=", False),  # an empty value is valid: it selects labels set to ""
        ("missing=", False),
    ],
)
def test_label_selectors_match_like_the_apiserver(selector: str, expected: bool) -> None:
    reqs = parse_label_selector(selector)
    assert all(r.matches(LABELS) for r in reqs) is expected


@pytest.mark.parametrize(
    "selector",
    [
        "=web",
        "app in web",
        "app in (web",
        "app=web,",
        "app=we b",
        "-bad=x",
        "a/b/c=x",
        "app=" + "x" * 64,
        "replicas>abc",
        "!",
        "app notin",
    ],
)
def test_invalid_label_selectors_are_rejected(selector: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(selector)


def test_field_selectors_support_the_three_operators_and_escapes() -> None:
    supported = frozenset({"metadata.name", "metadata.namespace"})
    reqs = parse_field_selector(r"metadata.name=a\,b,metadata.namespace!=kube-system", supported)
    assert [(r.field, r.equal, r.value) for r in reqs] == [
        ("metadata.name", True, "a,b"),
        ("metadata.namespace", False, "kube-system"),
    ]
    assert parse_field_selector("metadata.name==x", supported)[0].value == "x"


@pytest.mark.parametrize(
    "selector", ["spec.foo=bar", "metadata.name", "metadata.labels=x", r"metadata.name=a\q"]
)
def test_unsupported_or_malformed_field_selectors_are_rejected(selector: str) -> None:
    with pytest.raises(SelectorError):
        parse_field_selector(selector, supported_fields(BUILTIN_BY_PLURAL["pods"]))


def test_pods_support_node_name_and_phase_field_selectors() -> None:
    pods = BUILTIN_BY_PLURAL["pods"]
    pod = {
        "metadata": {"name": "a", "namespace": "default"},
        "spec": {"nodeName": "node-1", "hostNetwork": True},
        "status": {"phase": "Running"},
    }
    fields = selectable_fields(pods, pod)
    assert fields["spec.nodeName"] == "node-1"
    assert fields["spec.hostNetwork"] == "true"
    sel = Selector.parse(pods, field_selector="spec.nodeName=node-1,status.phase!=Failed")
    assert sel.matches({}, fields)
    assert not Selector.parse(pods, field_selector="status.phase=Pending").matches({}, fields)


def test_cluster_scoped_kinds_have_no_namespace_field() -> None:
    with pytest.raises(SelectorError, match=r"field label not supported: metadata\.namespace"):
        Selector.parse(BUILTIN_BY_PLURAL["nodes"], field_selector="metadata.namespace=x")
