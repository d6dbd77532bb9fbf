"""Secret redaction: no Secret value reaches a document, its repr or a log line, in any mode."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from informer_mirror.registry import build_registry
from informer_mirror.registry.redaction import (
    LAST_APPLIED,
    SECRET_SAFE_ANNOTATIONS,
    base64_size,
    redact_annotations,
)
from informer_mirror.registry.spec import ResourceSpec
from informer_mirror.registry.transformers.common import Doc, Obj, TransformOptions
from informer_mirror.settings import Settings

SECRETS = build_registry(Settings())["secrets"]

# printable, no quotes or backslashes: a value then reads the same in JSON, repr and log text
_TAIL = st.text(
    alphabet=st.characters(
        min_codepoint=0x21, max_codepoint=0x2FFF, exclude_characters="\"'\\", categories=None
    ).filter(lambda c: c.isprintable()),
    min_size=4,
    max_size=40,
)
SECRET_VALUES = st.builds(lambda tail: "S3CR3T" + tail, _TAIL)
KEYS = st.from_regex(r"[a-z][a-z0-9._-]{0,15}", fullmatch=True)
ANNOTATION_KEYS = st.from_regex(
    r"[a-z][a-z0-9.-]{0,20}/[a-z][a-z0-9-]{0,15}", fullmatch=True
).filter(lambda k: k not in SECRET_SAFE_ANNOTATIONS)


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    handler, level = Keep(logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings_in(v)


@st.composite
def secrets(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """A Secret as the API serves it, plus every confidential string it carries."""
    data = draw(st.dictionaries(KEYS, SECRET_VALUES, max_size=4))
    string_data = draw(st.dictionaries(KEYS, SECRET_VALUES, max_size=3))
    annotations = draw(st.dictionaries(ANNOTATION_KEYS, SECRET_VALUES, max_size=3))
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    obj: dict[str, Any] = {
        "metadata": {
            "name": "app-credentials",
            "namespace": "shop",
            "uid": "5f0c7a4e-8a51-4d0e-9a84-0e4b0d6f1c11",
            "resourceVersion": "812",
            "annotations": dict(annotations),
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:data": {}}}],
        },
        "type": draw(
            st.sampled_from(["Opaque", "kubernetes.io/tls", "bootstrap.kubernetes.io/token"])
        ),
        "data": encoded,
    }
    if string_data:
        obj["stringData"] = string_data
    if draw(st.booleans()):
        # what `kubectl apply` leaves behind: the whole manifest, data included
        manifest = {"data": encoded, "stringData": string_data, "metadata": {"name": "x"}}
        obj["metadata"]["annotations"][LAST_APPLIED] = json.dumps(manifest) + "\n"
    values = [*data.values(), *encoded.values(), *string_data.values(), *annotations.values()]
    return obj, values


def _leaky(obj: Obj, _options: TransformOptions) -> Doc:
    # a buggy transformer whose exception quotes a value
    first = next(iter(obj["data"].values()), "none")
    raise ValueError(f"cannot parse {first!r} {obj['metadata']}")


@settings(max_examples=150, deadline=None)
@given(secret=secrets(), keep_raw=st.booleans(), broken=st.booleans())
def test_no_secret_value_ever_appears_in_a_document_its_repr_or_the_logs(
    secret: tuple[dict[str, Any], list[str]], keep_raw: bool, broken: bool
) -> None:
    obj, values = secret
    spec: ResourceSpec = dataclasses.replace(SECRETS, keep_raw=keep_raw)
    if broken:
        spec = dataclasses.replace(spec, transformer=_leaky)
    with captured_logs() as records:
        doc = spec.to_document(obj, cluster="c")
    texts = [
        repr(doc),
        json.dumps(doc, ensure_ascii=False),
        *strings_in(doc),
        *(r.getMessage() for r in records),
        *(r.exc_text or "" for r in records),
    ]
    for value in values:
        assert not any(value in text for text in texts), value
    assert ("transformError" in doc) is broken
    assert ("raw" in doc) is keep_raw


def test_a_secret_document_keeps_type_keys_and_sizes() -> None:
    obj = {
        "metadata": {"name": "db", "namespace": "shop"},
        "type": "Opaque",
        "data": {"password": base64.b64encode(b"correct horse").decode(), "user": "YWRtaW4="},
        "stringData": {"token": "abc"},
        "immutable": True,
    }
    doc = SECRETS.to_document(obj, cluster="c")
    assert doc["type"] == "Opaque"
    assert doc["immutable"] is True
    assert doc["keys"] == ["password", "token", "user"]
    assert doc["sizes"] == {"password": 13, "user": 5, "token": 3}
    assert "data" not in doc


def test_secret_annotations_keep_their_keys_but_not_their_values() -> None:
    obj = {
        "metadata": {
            "name": "sa-token",
            "annotations": {
                "kubernetes.io/service-account.name": "builder",
                "note": "the password is hunter2",
            },
        },
        "type": "kubernetes.io/service-account-token",
    }
    doc = SECRETS.to_document(obj, cluster="c")
    assert doc["annotations"] == {
        "kubernetes.io/service-account.name": "builder",
        "note": "<redacted: 23 bytes>",
    }


def test_a_kept_raw_secret_has_placeholders_and_no_unknown_fields() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "managedFields": [{}]},
        "type": "Opaque",
        "data": {"password": "aHVudGVyMg=="},
        "stringData": {"token": "abc"},
        "extra": {"password": "hunter2"},
    }
    raw = dataclasses.replace(SECRETS, keep_raw=True).to_document(obj, cluster="c")["raw"]
    assert raw == {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": "db"},
        "data": {"password": "<redacted: 7 bytes>"},
        "stringData": {"token": "<redacted: 3 bytes>"},
    }


def test_base64_sizes_are_the_decoded_sizes_and_never_fail() -> None:
    for plain in (b"", b"a", b"ab", b"abc", b"abcd", bytes(range(256))):
        assert base64_size(base64.b64encode(plain).decode()) == len(plain)
    assert base64_size("not base64 at all!") >= 0
    assert base64_size(None) == 0


def test_last_applied_configuration_is_stripped_from_every_kind() -> None:
    kept = redact_annotations(
        {LAST_APPLIED: "{...}", "a": "b", "n": 1}, deny=frozenset({LAST_APPLIED}), redact=False
    )
    assert kept == {"a": "b"}
