"""The Store's document codec: exact round trips, a dictionary learnt from the first documents,
safe from several threads; and a Store that keeps its documents packed hands them out whole."""

from __future__ import annotations

import threading

import orjson

from informer_mirror.informer.codec import LEARN_FROM, DocumentCodec
from informer_mirror.informer.store import PACK_EVERY, Store
from informer_mirror.informer.stored import StoredObject, documents


def _document(n: int) -> bytes:
    return orjson.dumps(
        {
            "uid": f"uid-{n:08d}",
            "name": f"web-{n}",
            "namespace": "team-a",
            "labels": {"app": "web", "pod-template-hash": f"{n:x}"},
            "phase": "Running",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": "2026-11-26T02:12:33Z"}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
        }
    )


def test_the_first_documents_are_kept_as_they_are_and_later_ones_packed_smaller() -> None:
    codec = DocumentCodec()
    first = [codec.pack(_document(n)) for n in range(LEARN_FROM)]
    assert all(not packed and data == _document(n) for n, (data, packed) in enumerate(first))
    assert codec.learnt
    data, packed = codec.pack(_document(1000))
    assert packed
    assert len(data) < len(_document(1000)) / 3
    assert codec.unpack(data) == _document(1000)


def test_a_document_packing_would_not_shrink_is_kept_as_it_is() -> None:
    codec = DocumentCodec()
    for n in range(LEARN_FROM):
        codec.pack(_document(n))
    tiny = b"{}"
    assert codec.pack(tiny) == (tiny, False)


def test_packing_many_at_once_learns_first_and_makes_the_frames_pack_makes() -> None:
    one_by_one, at_once = DocumentCodec(), DocumentCodec()
    documents = [_document(n) for n in range(LEARN_FROM + 40)] + [b"{}"]
    expected = [one_by_one.pack(d) for d in documents]
    # across the learning: the first LEARN_FROM documents are kept as they are, then packed
    got = at_once.pack_many(documents[:5]) + at_once.pack_many(documents[5:])
    assert got == expected
    assert sum(packed for _, packed in got) == 40  # neither the learnt ones nor the tiny one
    assert [at_once.unpack(d) if packed else d for d, packed in got] == documents
    assert at_once.pack_many([]) == []
    assert at_once.pack_many([documents[-2]]) == [expected[-2]]


def test_a_batch_of_records_reads_as_each_record_does() -> None:
    mine, other = DocumentCodec(), DocumentCodec()
    for n in range(LEARN_FROM):
        mine.pack(_document(n))
        other.pack(_document(n))

    def record(n: int, codec: DocumentCodec | None) -> StoredObject:
        return StoredObject(
            key=f"a/web-{n}",
            namespace="a",
            uid=f"u{n}",
            resource_version="1",
            document=_document(n),
            codec=codec,
        )

    # packed by one codec, by another, not packed (no codec; or too small to shrink)
    records = [record(n, mine) for n in range(100, 130)] + [record(7, other), record(8, None)]
    records.insert(
        3,
        StoredObject(
            key="a/x", namespace="a", uid="x", resource_version="1", document=b"{}", codec=mine
        ),
    )
    assert documents(records) == [r.document for r in records]
    assert documents(records[:1]) == [records[0].document]
    assert documents([]) == []
    assert mine.unpack_many([]) == []


def test_threads_unpack_what_another_thread_packed() -> None:
    codec = DocumentCodec()
    for n in range(LEARN_FROM):
        codec.pack(_document(n))
    packed = {n: codec.pack(_document(n))[0] for n in range(100, 400)}
    errors: list[int] = []

    def reader() -> None:
        for n, data in packed.items():
            if codec.unpack(data) != _document(n):
                errors.append(n)

    threads = [threading.Thread(target=reader, name=f"reader-{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []


def test_a_compressing_store_keeps_documents_small_and_hands_them_out_whole() -> None:
    def pod(n: int) -> dict[str, object]:
        return {
            "metadata": {
                "name": f"web-{n}",
                "namespace": "a",
                "uid": f"u{n}",
                "resourceVersion": "1",
            },
            **orjson.loads(_document(n)),
        }

    packed, plain = (
        Store(name="pods", transform=None),
        Store(name="pods", transform=None, compress=False),
    )
    for store in (packed, plain):
        store.replace([pod(n) for n in range(200)], "5")
    for n in range(200):
        key = f"a/web-{n}"
        kept, expected = packed.get_stored(key), plain.get_stored(key)
        assert kept is not None and expected is not None
        assert kept.document == expected.document
        assert packed.get_by_key(key) == plain.get_by_key(key)
    size = sum(r.stored_size for r in packed.list_stored())
    assert size < sum(r.stored_size for r in plain.list_stored()) / 3


def test_a_store_packs_watch_updates_a_batch_at_a_time_and_never_brings_back_an_old_one() -> None:
    def pod(n: int, rv: str) -> dict[str, object]:
        return {
            "metadata": {
                "name": f"web-{n}",
                "namespace": "a",
                "uid": f"u{n}",
                "resourceVersion": rv,
            },
            **orjson.loads(_document(n)),
        }

    store = Store(name="pods", transform=None)
    store.replace([pod(n, "1") for n in range(LEARN_FROM)], "1")  # the codec learns from these
    store.update(pod(100, "2"))
    store.update(pod(100, "3"))  # the same key again before its first version was packed
    others = range(101, 100 + PACK_EVERY - 2)  # with the two above: PACK_EVERY - 1 updates
    for n in others:
        store.update(pod(n, "4"))
    store.delete_key("a/web-102")  # gone before it was packed
    unpacked = store.get_stored("a/web-101")
    assert unpacked is not None and unpacked.stored_size == len(unpacked.document)
    store.update(pod(999, "5"))  # the PACK_EVERY-th update packs them all
    assert store.get_stored("a/web-102") is None
    for n in [100, *(n for n in others if n != 102), 999]:
        record = store.get_stored(f"a/web-{n}")
        assert record is not None
        assert record.stored_size < len(record.document) / 3
        assert store.get_by_key(f"a/web-{n}") == pod(n, record.resource_version)
    latest = store.get_stored("a/web-100")
    assert latest is not None and latest.resource_version == "3"
