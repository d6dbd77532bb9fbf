"""config/rbac.yaml: read-only access to exactly the built-in kinds, bound to the daemon's
ServiceAccount, with a long-lived token for the kubeconfig."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from informer_mirror.kinds import BUILTIN_KINDS, KindInfo

RBAC = Path(__file__).resolve().parent.parent / "config" / "rbac.yaml"
READ_VERBS = {"get", "list", "watch"}
NAMESPACE = "informer-mirror"
ACCOUNT = "informer-mirror"


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    docs = [doc for doc in yaml.safe_load_all(RBAC.read_text(encoding="utf-8")) if doc]
    by_kind = {doc["kind"]: doc for doc in docs}
    assert len(docs) == 4
    assert set(by_kind) == {"ClusterRole", "ServiceAccount", "ClusterRoleBinding", "Secret"}
    return by_kind


def _rules(documents: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = documents["ClusterRole"]["rules"]
    return rules


def _granted(documents: dict[str, dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> the verbs granted on it, over all rules."""
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in _rules(documents):
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


@pytest.mark.parametrize("kind", BUILTIN_KINDS, ids=lambda k: k.plural)
def test_every_built_in_kind_may_be_got_listed_and_watched(
    documents: dict[str, dict[str, Any]], kind: KindInfo
) -> None:
    assert _granted(documents).get((kind.group, kind.plural), set()) >= READ_VERBS


def test_the_role_grants_nothing_but_the_built_in_kinds(
    documents: dict[str, dict[str, Any]],
) -> None:
    assert set(_granted(documents)) == {(k.group, k.plural) for k in BUILTIN_KINDS}


def test_no_rule_grants_a_write_verb_a_wildcard_or_a_non_resource_url(
    documents: dict[str, dict[str, Any]],
) -> None:
    for rule in _rules(documents):
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        assert set(rule["verbs"]) <= READ_VERBS, rule
        assert "*" not in rule["apiGroups"] + rule["resources"], rule
        assert not any("/" in resource for resource in rule["resources"]), rule  # subresources


def test_the_binding_gives_the_role_to_the_service_account(
    documents: dict[str, dict[str, Any]],
) -> None:
    role = documents["ClusterRole"]["metadata"]["name"]
    binding = documents["ClusterRoleBinding"]
    account = documents["ServiceAccount"]["metadata"]

    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": ACCOUNT, "namespace": NAMESPACE}
    ]
    assert account == {**account, "name": ACCOUNT, "namespace": NAMESPACE}


def test_the_secret_is_a_long_lived_token_of_that_service_account(
    documents: dict[str, dict[str, Any]],
) -> None:
    secret = documents["Secret"]

    assert secret["apiVersion"] == "v1"
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["namespace"] == NAMESPACE
    assert secret["metadata"]["annotations"] == {"kubernetes.io/service-account.name": ACCOUNT}
    assert "data" not in secret  # the token controller fills it in


def test_the_comments_walk_through_making_a_kubeconfig(
    documents: dict[str, dict[str, Any]],
) -> None:
    text = RBAC.read_text(encoding="utf-8")
    secret = documents["Secret"]["metadata"]["name"]

    for step in (
        f"kubectl create namespace {NAMESPACE}",
        f"get secret {secret}",
        "kubectl config set-cluster",
        "--embed-certs=true",
        "kubectl config set-credentials",
        "kubectl config set-context",
        "auth can-i",
        "/etc/informer-mirror/kubeconfig",
    ):
        assert step in text, step
