"""The Store: client-go thread_safe_store semantics, change kinds, transforms, indexes."""

from __future__ import annotations

import copy
import json
import pickle
import random
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from informer_mirror.informer.store import (
    NAMESPACE_INDEX,
    PUBLISH_EVERY,
    ChangeKind,
    Store,
    StoredObject,
)
from informer_mirror.informer.stored import (
    FrozenDict,
    FrozenList,
    object_key,
    split_key,
    strip_managed_fields,
)


def pod(
    name: str,
    namespace: str | None = "default",
    *,
    uid: str | None = None,
    rv: str = "1",
    labels: dict[str, str] | None = None,
    **body: Any,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "uid": uid or f"uid-{name}", "resourceVersion": rv}
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels is not None:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, **body}


def by_tier(obj: StoredObject) -> Iterable[str]:
    labels = obj.object["metadata"].get("labels") or {}
    return [labels["tier"]] if "tier" in labels else []


def check_indexes_match_contents(store: Store, index: str, fn: Any) -> None:
    """Every index value lists exactly the keys whose objects produce it; no empty sets."""
    expected: dict[str, set[str]] = {}
    for record in store.list_stored():
        for value in fn(record):
            expected.setdefault(value, set()).add(record.key)
    actual = {value: set(store.index_keys(index, value)) for value in store.index_values(index)}
    assert actual == expected


# ---- keys and CRUD -----------------------------------------------------------------------


def test_keys_are_namespace_slash_name_or_just_name_for_cluster_scoped_objects() -> None:
    assert object_key(pod("web", "shop")) == "shop/web"
    assert object_key(pod("node-1", None)) == "node-1"
    assert object_key(pod("node-1", "")) == "node-1"
    assert split_key("shop/web") == ("shop", "web")
    assert split_key("node-1") == ("", "node-1")


def test_an_object_without_a_name_is_rejected_with_a_value_error() -> None:
    store = Store(name="pods")
    with pytest.raises(ValueError, match=r"metadata\.name"):
        store.add({"metadata": {"namespace": "x"}})
    with pytest.raises(ValueError, match=r"metadata\.name"):
        store.add({"kind": "Pod"})
    assert len(store) == 0


def test_an_added_object_can_be_read_back_by_key_and_by_object() -> None:
    store = Store(name="pods")
    change = store.add(pod("web", "shop", spec={"nodeName": "n1"}))
    assert change.kind is ChangeKind.ADDED
    assert change.changed
    assert change.old is None
    assert change.new is not None
    assert change.new.key == "shop/web"
    got = store.get_by_key("shop/web")
    assert got is not None
    assert got["spec"] == {"nodeName": "n1"}
    assert store.get(pod("web", "shop")) == got
    assert "shop/web" in store
    assert store.get_by_key("shop/other") is None
    assert store.get_stored("shop/other") is None


def test_update_with_a_new_resource_version_reports_updated_and_stores_the_new_state() -> None:
    store = Store(name="pods")
    store.add(pod("web", rv="1", spec={"v": 1}))
    change = store.update(pod("web", rv="2", spec={"v": 2}))
    assert change.kind is ChangeKind.UPDATED
    assert change.old is not None
    assert change.old.resource_version == "1"
    assert store.get_by_key("default/web") == pod("web", rv="2", spec={"v": 2})


def test_update_with_the_same_resource_version_is_a_sync_reported_unchanged() -> None:
    store = Store(name="pods")
    store.add(pod("web", rv="7"))
    change = store.update(pod("web", rv="7"))
    assert change.kind is ChangeKind.UNCHANGED
    assert not change.changed


def test_objects_without_resource_versions_are_compared_by_content() -> None:
    store = Store(name="pods")
    store.add(pod("web", rv="", spec={"v": 1}))
    assert store.update(pod("web", rv="", spec={"v": 1})).kind is ChangeKind.UNCHANGED
    assert store.update(pod("web", rv="", spec={"v": 2})).kind is ChangeKind.UPDATED


def test_a_new_uid_under_the_same_key_is_reported_as_replaced_uid_with_the_old_object() -> None:
    store = Store(name="pods")
    store.add(pod("web", uid="old-uid", rv="5"))
    change = store.update(pod("web", uid="new-uid", rv="5"))
    assert change.kind is ChangeKind.REPLACED_UID
    assert change.old is not None
    assert change.old.uid == "old-uid"
    assert change.new is not None
    assert change.new.uid == "new-uid"
    stored = store.get_stored("default/web")
    assert stored is not None
    assert stored.uid == "new-uid"


def test_delete_removes_the_object_and_reports_its_last_state() -> None:
    store = Store(name="pods")
    store.add(pod("web", rv="3"))
    change = store.delete(pod("web", rv="4"))
    assert change.kind is ChangeKind.DELETED
    assert change.old is not None
    assert change.old.resource_version == "3"
    assert change.new is None
    assert store.get_by_key("default/web") is None
    assert len(store) == 0


def test_deleting_an_unknown_key_changes_nothing() -> None:
    store = Store(name="pods")
    store.add(pod("web"))
    change = store.delete_key("default/ghost")
    assert change.kind is ChangeKind.UNCHANGED
    assert change.old is None
    assert store.list_keys() == ["default/web"]


def test_list_and_list_keys_return_everything_stored() -> None:
    store = Store(name="pods")
    for name in ("a", "b", "c"):
        store.add(pod(name, "ns"))
    store.add(pod("n1", None))
    assert sorted(store.list_keys()) == ["n1", "ns/a", "ns/b", "ns/c"]
    assert sorted(o["metadata"]["name"] for o in store.list()) == ["a", "b", "c", "n1"]
    assert sorted(r.key for r in store.list_stored()) == ["n1", "ns/a", "ns/b", "ns/c"]
    assert len(store) == 4


# ---- indexes -----------------------------------------------------------------------------


def test_the_namespace_index_groups_keys_and_puts_cluster_scoped_objects_under_empty() -> None:
    store = Store(name="mixed")
    store.add(pod("a", "ns1"))
    store.add(pod("b", "ns1"))
    store.add(pod("c", "ns2"))
    store.add(pod("node", None))
    assert sorted(store.index_keys(NAMESPACE_INDEX, "ns1")) == ["ns1/a", "ns1/b"]
    assert store.index_keys(NAMESPACE_INDEX, "ns2") == ["ns2/c"]
    assert store.index_keys(NAMESPACE_INDEX, "") == ["node"]
    assert sorted(store.index_values(NAMESPACE_INDEX)) == ["", "ns1", "ns2"]
    assert [o["metadata"]["name"] for o in store.index(NAMESPACE_INDEX, "ns2")] == ["c"]
    assert store.index_keys(NAMESPACE_INDEX, "nowhere") == []


def test_a_custom_index_finds_objects_by_label_and_follows_updates_and_deletes() -> None:
    store = Store(name="pods", indexers={"tier": by_tier})
    store.add(pod("a", labels={"tier": "web"}))
    store.add(pod("b", labels={"tier": "web"}))
    store.add(pod("c", labels={"tier": "db"}))
    store.add(pod("d"))
    assert sorted(store.index_keys("tier", "web")) == ["default/a", "default/b"]
    store.update(pod("b", rv="2", labels={"tier": "db"}))
    assert store.index_keys("tier", "web") == ["default/a"]
    assert sorted(store.index_keys("tier", "db")) == ["default/b", "default/c"]
    store.delete_key("default/c")
    assert store.index_keys("tier", "db") == ["default/b"]
    check_indexes_match_contents(store, "tier", by_tier)


def test_index_values_left_with_no_objects_are_removed() -> None:
    store = Store(name="pods", indexers={"tier": by_tier})
    store.add(pod("a", "ns1", labels={"tier": "web"}))
    store.update(pod("a", "ns1", rv="2", labels={"tier": "db"}))
    assert store.index_values("tier") == ["db"]
    store.delete_key("ns1/a")
    assert store.index_values("tier") == []
    assert store.index_values(NAMESPACE_INDEX) == []


def test_an_index_function_that_raises_indexes_the_object_under_nothing_and_is_counted() -> None:
    def flaky(obj: StoredObject) -> list[str]:
        if obj.name == "bad":
            raise RuntimeError("boom")
        return [obj.name]

    def not_strings(obj: StoredObject) -> list[Any]:
        return [1] if obj.name == "bad" else []

    store = Store(name="pods", indexers={"flaky": flaky, "ints": not_strings})
    store.add(pod("good"))
    store.add(pod("bad"))
    assert store.index_values("flaky") == ["good"]
    assert store.index_values("ints") == []
    assert store.index_errors == 2
    assert sorted(store.list_keys()) == ["default/bad", "default/good"]
    assert sorted(store.index_keys(NAMESPACE_INDEX, "default")) == ["default/bad", "default/good"]


def test_indexes_added_later_index_the_objects_already_stored() -> None:
    store = Store(name="pods")
    store.add(pod("a", labels={"tier": "web"}))
    store.add_indexers({"tier": by_tier})
    assert store.index_keys("tier", "web") == ["default/a"]
    with pytest.raises(ValueError, match="already exists"):
        store.add_indexers({"tier": by_tier})
    with pytest.raises(ValueError, match="already exists"):
        store.add_indexers({NAMESPACE_INDEX: by_tier})


def test_asking_an_unknown_index_raises_key_error() -> None:
    store = Store(name="pods")
    with pytest.raises(KeyError):
        store.index_keys("nope", "x")
    with pytest.raises(KeyError):
        store.index_values("nope")


# ---- replace -----------------------------------------------------------------------------


def test_replace_reports_added_changed_and_removed_keys_but_not_unchanged_ones() -> None:
    store = Store(name="pods")
    store.add(pod("same", rv="1"))
    store.add(pod("changes", rv="1"))
    store.add(pod("goes", rv="1"))
    result = store.replace(
        [pod("same", rv="1"), pod("changes", rv="2"), pod("new", rv="3")], resource_version="10"
    )
    assert result.added == {"default/new"}
    assert result.changed == {"default/changes"}
    assert result.removed == {"default/goes"}
    assert result.uid_replaced == frozenset()
    assert sorted(store.list_keys()) == ["default/changes", "default/new", "default/same"]
    assert store.last_resource_version == "10"


def test_replace_reports_a_uid_change_and_keeps_tombstones_of_removed_objects() -> None:
    store = Store(name="pods")
    store.add(pod("recreated", uid="u1", rv="1"))
    store.add(pod("deleted", uid="u2", rv="4", spec={"last": True}))
    result = store.replace([pod("recreated", uid="u9", rv="1")], resource_version="20")
    assert result.changed == {"default/recreated"}
    assert result.uid_replaced == {"default/recreated"}
    assert set(result.tombstones) == {"default/deleted"}
    tombstone = result.tombstones["default/deleted"]
    assert tombstone.uid == "u2"
    assert tombstone.object["spec"] == {"last": True}


def test_replace_with_duplicate_keys_keeps_the_last_one() -> None:
    store = Store(name="pods")
    store.replace([pod("a", rv="1"), pod("a", rv="2")], resource_version="2")
    stored = store.get_stored("default/a")
    assert stored is not None
    assert stored.resource_version == "2"
    assert store.index_keys(NAMESPACE_INDEX, "default") == ["default/a"]


def test_replace_rebuilds_every_index() -> None:
    store = Store(name="pods", indexers={"tier": by_tier})
    store.add(pod("a", "ns1", labels={"tier": "web"}))
    store.replace([pod("b", "ns2", labels={"tier": "db"})], resource_version="5")
    assert store.index_values(NAMESPACE_INDEX) == ["ns2"]
    assert store.index_values("tier") == ["db"]
    assert store.index_keys("tier", "db") == ["ns2/b"]
    store.delete_key("ns2/b")
    assert store.index_values("tier") == []


def test_a_first_list_fills_an_empty_store_in_published_chunks_as_the_items_arrive() -> None:
    store = Store(name="pods")
    published: list[list[str]] = []
    seen_while_listing: list[int] = []

    def items() -> Iterator[dict[str, Any]]:
        for n in range(PUBLISH_EVERY * 2 + 7):
            if n == PUBLISH_EVERY + 1:
                seen_while_listing.append(len(store))
            yield pod(f"p{n}", rv=str(n + 1))

    result = store.replace(
        items(), "900", on_published=lambda rs: published.append([r.key for r in rs])
    )
    assert seen_while_listing == [PUBLISH_EVERY], "the first chunk was visible mid-list"
    assert [len(chunk) for chunk in published] == [PUBLISH_EVERY, PUBLISH_EVERY, 7]
    assert result.added == frozenset(key for chunk in published for key in chunk)
    assert len(store) == PUBLISH_EVERY * 2 + 7
    assert store.last_resource_version == "900"
    assert sorted(store.index_keys(NAMESPACE_INDEX, "default")) == sorted(result.added)


def test_a_list_into_a_store_that_holds_objects_stays_atomic_and_publishes_nothing() -> None:
    store = Store(name="pods")
    store.add(pod("old"))
    published: list[StoredObject] = []
    during: list[list[str]] = []

    def items() -> Iterator[dict[str, Any]]:
        for n in range(PUBLISH_EVERY + 1):
            yield pod(f"p{n}")
        during.append(store.list_keys())

    result = store.replace(items(), "5", on_published=published.extend)
    assert published == []
    assert during == [["default/old"]]
    assert result.removed == {"default/old"}
    assert len(result.added) == PUBLISH_EVERY + 1


def test_a_first_list_that_fails_part_way_keeps_its_prefix_and_the_next_list_diffs_it() -> None:
    store = Store(name="pods")

    def failing() -> Iterator[dict[str, Any]]:
        for n in range(PUBLISH_EVERY + 3):
            yield pod(f"p{n}", rv="1")
        raise ConnectionError("the list broke")

    with pytest.raises(ConnectionError):
        store.replace(failing(), "10", on_published=lambda _records: None)
    assert len(store) == PUBLISH_EVERY, "what was published stays"
    assert store.last_resource_version == ""
    kept = [pod(f"p{n}", rv="1") for n in range(1, PUBLISH_EVERY + 3)]  # p0 went meanwhile
    result = store.replace(kept, "20", on_published=lambda _records: None)
    assert result.removed == {"default/p0"}
    assert result.added == {f"default/p{n}" for n in range(PUBLISH_EVERY, PUBLISH_EVERY + 3)}
    assert result.changed == frozenset()
    assert len(store) == PUBLISH_EVERY + 2


# ---- resourceVersion bookkeeping ---------------------------------------------------------


def test_the_last_resource_version_follows_changes_deletes_bookmarks_and_replace() -> None:
    store = Store(name="pods")
    assert store.last_resource_version == ""
    store.add(pod("a", rv="11"))
    assert store.last_resource_version == "11"
    store.update(pod("a", rv="12"))
    assert store.last_resource_version == "12"
    store.delete(pod("a", rv="13"))
    assert store.last_resource_version == "13"
    store.bookmark("20")
    assert store.last_resource_version == "20"
    store.replace([], resource_version="30")
    assert store.last_resource_version == "30"
    store.delete_key("ghost")
    assert store.last_resource_version == "30"


# ---- transform ---------------------------------------------------------------------------


def test_the_transform_runs_exactly_once_per_ingested_object() -> None:
    calls: list[str] = []

    def transform(obj: dict[str, Any]) -> dict[str, Any]:
        calls.append(obj["metadata"]["name"])
        return {**obj, "transformed": True}

    store = Store(name="pods", transform=transform, indexers={"tier": by_tier})
    store.add(pod("a", labels={"tier": "web"}))
    store.replace([pod("a", rv="2"), pod("b")], resource_version="2")
    for _ in range(3):
        assert store.get_by_key("default/a") is not None
        store.list()
        store.index(NAMESPACE_INDEX, "default")
    assert sorted(calls) == ["a", "a", "b"]
    got = store.get_by_key("default/b")
    assert got is not None
    assert got["transformed"] is True


class _Watched(dict[str, Any]):
    """A transform's output whose release a test can see (a weak reference)."""


def test_a_transformed_document_is_let_go_once_encoded_unless_an_index_function_reads_it() -> None:
    # Freed while still in the CPU's caches, not with the rest of its list page (Store._encode).
    refs: list[weakref.ref[_Watched]] = []
    alive_at_each_call: list[int] = []

    def transform(obj: dict[str, Any]) -> dict[str, Any]:
        alive_at_each_call.append(sum(ref() is not None for ref in refs))
        out = _Watched(obj)
        refs.append(weakref.ref(out))
        return out

    items = [pod(f"p{i}", labels={"tier": "web"}) for i in range(4)]
    plain = Store(name="pods", transform=transform)
    plain.replace(items, "1", on_published=lambda _records: None)
    plain.update(pod("p0", rv="2"))
    assert alive_at_each_call == [0, 0, 0, 0, 0]
    refs.clear()
    alive_at_each_call.clear()
    # an index function reads the document decoded: it is kept until the page is indexed
    indexed = Store(name="pods", transform=transform, indexers={"tier": by_tier})
    indexed.replace(items, "1", on_published=lambda _records: None)
    assert alive_at_each_call == [0, 1, 2, 3]
    assert sorted(indexed.index_keys("tier", "web")) == [f"default/p{i}" for i in range(4)]
    assert all(ref() is None for ref in refs)


def test_managed_fields_are_stripped_by_default_even_when_none_or_missing() -> None:
    store = Store(name="pods")
    raw = pod("a")
    raw["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    store.add(raw)
    store.add(pod("b") | {"metadata": {"name": "b", "managedFields": None}})
    store.add(pod("c"))
    store.add({"metadata": {"name": "d"}})
    for key in ("default/a", "b", "default/c", "d"):
        got = store.get_by_key(key)
        assert got is not None
        assert "managedFields" not in got["metadata"]
    assert "managedFields" in raw["metadata"], "the caller's dict must not be modified"
    assert store.transform_errors == 0
    assert strip_managed_fields({"metadata": None}) == {"metadata": None}
    assert strip_managed_fields({}) == {}


def test_a_failing_transform_keeps_the_metadata_and_a_transform_error_and_is_counted() -> None:
    def broken(obj: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("spec")

    store = Store(name="secrets", transform=broken)
    raw = pod("s1", "ns", uid="u1", rv="9", labels={"app": "x"}, data={"password": "hunter2"})
    raw["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{...}"}
    change = store.add(raw)
    assert change.kind is ChangeKind.ADDED
    record = store.get_stored("ns/s1")
    assert record is not None
    assert record.transform_error
    assert (record.uid, record.resource_version) == ("u1", "9")
    got = store.get_by_key("ns/s1")
    assert got == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "s1",
            "namespace": "ns",
            "uid": "u1",
            "resourceVersion": "9",
            "labels": {"app": "x"},
        },
        "transformError": "KeyError: 'spec'",
    }
    assert store.transform_errors == 1
    store.replace([raw, pod("s2", "ns")], resource_version="10")
    assert store.transform_errors == 3


def test_a_transform_returning_a_non_dict_or_unencodable_value_counts_as_a_failure() -> None:
    results: list[Any] = [["not", "a", "dict"], {"bad": {1, 2}}, {"big": 2**70}]

    def odd(obj: dict[str, Any]) -> Any:
        return results.pop(0)

    store = Store(name="pods", transform=odd)
    for name in ("a", "b", "c"):
        store.add(pod(name))
    assert store.transform_errors == 3
    errors = [store.get_by_key(f"default/{n}") for n in ("a", "b", "c")]
    assert all(e is not None and e["transformError"].startswith("TypeError") for e in errors)


def test_no_transform_keeps_the_object_as_it_came() -> None:
    store = Store(name="pods", transform=None)
    raw = pod("a")
    raw["metadata"]["managedFields"] = []
    store.add(raw)
    assert store.get_by_key("default/a") == raw


# ---- handed-out objects ------------------------------------------------------------------


def test_objects_handed_out_are_read_only_at_every_depth() -> None:
    store = Store(name="pods")
    store.add(pod("a", labels={"app": "x"}, spec={"containers": [{"name": "c", "ports": [1]}]}))
    got = store.get_by_key("default/a")
    assert got is not None
    assert isinstance(got, FrozenDict)
    with pytest.raises(TypeError):
        got["spec"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        got["metadata"]["labels"]["app"] = "y"
    with pytest.raises(TypeError):
        del got["metadata"]["labels"]["app"]
    for mutate in ("clear", "popitem"):
        with pytest.raises(TypeError):
            getattr(got["metadata"], mutate)()
    with pytest.raises(TypeError):
        got["metadata"].pop("name")
    with pytest.raises(TypeError):
        got["metadata"].setdefault("x", 1)
    with pytest.raises(TypeError):
        got["metadata"].update(x=1)
    with pytest.raises(TypeError):
        got["metadata"]["labels"] |= {"b": "c"}
    containers = got["spec"]["containers"]
    assert containers == [{"name": "c", "ports": [1]}]
    for mutate_list in (
        lambda: containers.append({}),
        lambda: containers.extend([{}]),
        lambda: containers.insert(0, {}),
        containers.pop,
        lambda: containers.remove(containers[0]),
        containers.sort,
        containers.reverse,
        containers.clear,
        lambda: containers.__setitem__(0, {}),
        lambda: containers.__delitem__(0),
        lambda: containers.__iadd__([{}]),
        lambda: containers.__imul__(2),
    ):
        with pytest.raises(TypeError):
            mutate_list()
    with pytest.raises(TypeError):
        containers[0]["name"] = "other"
    again = store.get_by_key("default/a")
    assert again is not None
    assert again["metadata"]["labels"] == {"app": "x"}


def test_read_only_objects_serialize_copy_and_pickle_like_plain_dicts() -> None:
    store = Store(name="pods")
    raw = pod("a", spec={"containers": [{"name": "c"}]})
    store.add(raw)
    got = store.get_by_key("default/a")
    assert got is not None
    assert orjson.loads(orjson.dumps(got)) == raw
    assert json.loads(json.dumps(got)) == raw
    assert copy.deepcopy(got) == got
    assert pickle.loads(pickle.dumps(got)) == got
    assert type(pickle.loads(pickle.dumps(got))["spec"]["containers"]) is FrozenList
    mutable = dict(got)
    mutable["x"] = 1
    assert "x" not in got


def test_a_private_decoded_copy_can_be_changed_without_touching_the_store() -> None:
    store = Store(name="pods")
    store.add(pod("a", spec={"v": 1}))
    record = store.get_stored("default/a")
    assert record is not None
    copy_ = record.to_dict()
    copy_["spec"]["v"] = 2
    assert store.get_by_key("default/a") == pod("a", spec={"v": 1})


def test_records_expose_key_uid_rv_and_document_bytes_without_decoding_and_are_immutable() -> None:
    store = Store(name="pods")
    store.add(pod("web", "shop", uid="u-1", rv="42", spec={"v": 1}))
    record = store.get_stored("shop/web")
    assert record is not None
    assert (record.key, record.namespace, record.name) == ("shop/web", "shop", "web")
    assert (record.uid, record.resource_version) == ("u-1", "42")
    assert isinstance(record.document, bytes)
    assert orjson.loads(record.document) == pod("web", "shop", uid="u-1", rv="42", spec={"v": 1})
    assert not record.transform_error
    with pytest.raises(AttributeError):
        record.uid = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del record.document
    assert "shop/web" in repr(record)


# ---- threads -----------------------------------------------------------------------------


def test_concurrent_writers_and_readers_leave_the_store_and_its_indexes_consistent() -> None:
    store = Store(name="pods", indexers={"tier": by_tier})
    errors: list[BaseException] = []
    writers_done = threading.Event()
    final: dict[str, dict[str, Any] | None] = {}
    final_lock = threading.Lock()

    def writer(worker: int) -> None:
        rng = random.Random(worker)
        mine: dict[str, dict[str, Any] | None] = {}
        try:
            for step in range(600):
                name = f"w{worker}-{rng.randrange(30)}"
                namespace = f"ns{rng.randrange(4)}"  # namespaces and tiers shared by all writers
                key = f"{namespace}/{name}"
                if rng.random() < 0.25:
                    store.delete_key(key)
                    mine[key] = None
                else:
                    obj = pod(
                        name, namespace, rv=str(step), labels={"tier": f"t{rng.randrange(3)}"}
                    )
                    store.update(obj)
                    mine[key] = obj
        except BaseException as e:
            errors.append(e)
        with final_lock:
            final.update(mine)

    def reader() -> None:
        try:
            while not writers_done.is_set():
                for obj in store.list():
                    meta = obj["metadata"]
                    assert object_key(obj) == f"{meta['namespace']}/{meta['name']}"
                for value in store.index_values("tier"):
                    for key in store.index_keys("tier", value):
                        store.get_by_key(key)
        except BaseException as e:
            errors.append(e)

    writers = [threading.Thread(target=writer, args=(i,), name=f"writer-{i}") for i in range(4)]
    readers = [threading.Thread(target=reader, name=f"reader-{i}") for i in range(2)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join(timeout=60)
    writers_done.set()
    for t in readers:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in writers + readers)
    assert errors == []
    expected = {key: obj for key, obj in final.items() if obj is not None}
    assert set(store.list_keys()) == set(expected)
    for key, obj in expected.items():
        assert store.get_by_key(key) == obj
    check_indexes_match_contents(store, "tier", by_tier)
    check_indexes_match_contents(store, NAMESPACE_INDEX, lambda r: [r.namespace])


# ---- model-based -------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c"])
NAMESPACES = st.sampled_from(["", "ns1", "ns2"])
UIDS = st.sampled_from(["u1", "u2"])
RVS = st.integers(min_value=1, max_value=4).map(str)
TIERS = st.sampled_from([None, "web", "db"])
OBJECTS = st.builds(
    lambda name, ns, uid, rv, tier, data: pod(
        name, ns or None, uid=uid, rv=rv, labels={"tier": tier} if tier else {}, data=data
    ),
    NAMES,
    NAMESPACES,
    UIDS,
    RVS,
    TIERS,
    st.integers(0, 3),
)


def expected_kind(old: dict[str, Any] | None, new: dict[str, Any]) -> ChangeKind:
    if old is None:
        return ChangeKind.ADDED
    if old["metadata"]["uid"] != new["metadata"]["uid"]:
        return ChangeKind.REPLACED_UID
    if old["metadata"]["resourceVersion"] == new["metadata"]["resourceVersion"]:
        return ChangeKind.UNCHANGED
    return ChangeKind.UPDATED


class StoreAgainstADict(RuleBasedStateMachine):
    """Random add/update/delete/replace/bookmark sequences: the Store behaves like a dict."""

    def __init__(self) -> None:
        super().__init__()
        self.store = Store(name="model", indexers={"tier": by_tier})
        self.model: dict[str, dict[str, Any]] = {}
        self.last_rv = ""

    @rule(obj=OBJECTS)
    def upsert(self, obj: dict[str, Any]) -> None:
        key = object_key(obj)
        assert self.store.update(obj).kind is expected_kind(self.model.get(key), obj)
        self.model[key] = obj
        self.last_rv = obj["metadata"]["resourceVersion"]

    @rule(obj=OBJECTS)
    def delete(self, obj: dict[str, Any]) -> None:
        key = object_key(obj)
        kind = ChangeKind.DELETED if key in self.model else ChangeKind.UNCHANGED
        assert self.store.delete(obj).kind is kind
        self.model.pop(key, None)
        self.last_rv = obj["metadata"]["resourceVersion"]

    @rule(objs=st.lists(OBJECTS, max_size=6), rv=RVS)
    def replace(self, objs: list[dict[str, Any]], rv: str) -> None:
        new = {object_key(o): o for o in objs}
        result = self.store.replace(objs, rv)
        kinds = {k: expected_kind(self.model.get(k), o) for k, o in new.items()}
        assert result.added == {k for k, kind in kinds.items() if kind is ChangeKind.ADDED}
        assert result.changed == {
            k for k, kind in kinds.items() if kind in (ChangeKind.UPDATED, ChangeKind.REPLACED_UID)
        }
        assert result.uid_replaced == {
            k for k, kind in kinds.items() if kind is ChangeKind.REPLACED_UID
        }
        assert result.removed == set(self.model) - set(new)
        assert {k: t.object for k, t in result.tombstones.items()} == {
            k: self.model[k] for k in result.removed
        }
        self.model = new
        self.last_rv = rv

    @rule(rv=RVS)
    def bookmark(self, rv: str) -> None:
        self.store.bookmark(rv)
        self.last_rv = rv

    @invariant()
    def contents_match(self) -> None:
        assert sorted(self.store.list_keys()) == sorted(self.model)
        for key, obj in self.model.items():
            assert self.store.get_by_key(key) == obj
            record = self.store.get_stored(key)
            assert record is not None
            assert record.uid == obj["metadata"]["uid"]
            assert record.resource_version == obj["metadata"]["resourceVersion"]

    @invariant()
    def indexes_match(self) -> None:
        check_indexes_match_contents(self.store, "tier", by_tier)
        check_indexes_match_contents(self.store, NAMESPACE_INDEX, lambda r: [r.namespace])

    @invariant()
    def resource_version_matches(self) -> None:
        assert self.store.last_resource_version == self.last_rv


TestStoreAgainstADict = StoreAgainstADict.TestCase
TestStoreAgainstADict.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
