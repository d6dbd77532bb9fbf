"""MongoDB filters, sorts, pipelines and index keys of the mirror, as plain dicts and lists.

Place in the data flow: pure translation for ``mongo.py`` (called on whichever thread runs the
query); it imports neither pymongo nor bson, so it is testable without a server and keeps the
pymongo import in one module (ARCHITECTURE.md, convention 3).

Every filter starts with the cluster scope ``{"_mirror.cluster": cluster}``: several daemons may
share one database, and a daemon must never list, count, reconcile or delete another cluster's
documents. Labels are stored twice: as the ``labels`` map (as the API returns them) and as
``_labels: [{k, v, n?}]`` (``n`` when the value is an integer), because label keys contain dots
(``app.kubernetes.io/name``), which MongoDB cannot address in a field path nor index, while a
multikey index on ``_labels.k``/``_labels.v`` answers any selector. ``search`` becomes an
anchored-nowhere, escaped, case-insensitive regex: the text is matched literally.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from informer_mirror.backends.base import FieldComparison, SortKey
from informer_mirror.errors import QueryError
from informer_mirror.registry.transformers.common import MIRROR_FIELD
from informer_mirror.selectors import LabelRequirement

CLUSTER_FIELD = f"{MIRROR_FIELD}.cluster"
LABELS_FIELD = "_labels"
"""The indexable copy of the labels: ``[{"k": key, "v": value, "n": int(value)?}]``."""
PROJECTION: dict[str, Any] = {"_id": 0, LABELS_FIELD: 0}
"""What queries leave out: ``_id`` repeats ``uid``, ``_labels`` repeats ``labels``."""

_DIGITS = re.compile(r"[0-9]{1,18}")

Filter = dict[str, Any]
IndexKeys = list[tuple[str, int]]


def label_pairs(labels: Any) -> list[dict[str, Any]]:
    """The ``_labels`` array of a document's ``labels`` map (non-string entries are left out)."""
    if not isinstance(labels, Mapping):
        return []
    pairs: list[dict[str, Any]] = []
    for k, v in labels.items():
        if isinstance(k, str) and isinstance(v, str):
            pair: dict[str, Any] = {"k": k, "v": v}
            if _DIGITS.fullmatch(v):
                pair["n"] = int(v)  # lets k>5 / k<5 compare as integers, as Kubernetes does
            pairs.append(pair)
    return pairs


def scope(cluster: str) -> Filter:
    """The filter every query and delete starts from."""
    return {CLUSTER_FIELD: cluster}


def key_filter(cluster: str, namespace: str, name: str) -> Filter:
    """The document(s) of one Store key; cluster-scoped objects have ``namespace: null``."""
    return {CLUSTER_FIELD: cluster, "namespace": namespace or None, "name": name}


def _label_filter(req: LabelRequirement) -> Filter:
    if req.op in ("=", "in"):
        return {LABELS_FIELD: {"$elemMatch": {"k": req.key, "v": {"$in": list(req.values)}}}}
    if req.op in ("!=", "notin"):
        match = {"$elemMatch": {"k": req.key, "v": {"$in": list(req.values)}}}
        return {LABELS_FIELD: {"$not": match}}  # true when the label is absent, as in Kubernetes
    if req.op == "exists":
        return {f"{LABELS_FIELD}.k": req.key}
    if req.op == "!":
        return {f"{LABELS_FIELD}.k": {"$ne": req.key}}
    if req.op in (">", "<"):
        op = "$gt" if req.op == ">" else "$lt"
        return {LABELS_FIELD: {"$elemMatch": {"k": req.key, "n": {op: int(req.values[0])}}}}
    raise QueryError(f"label selector: unsupported operator {req.op!r}")


def list_filter(
    cluster: str,
    *,
    namespace: str | None,
    search: str | None,
    requirements: Sequence[LabelRequirement],
) -> Filter:
    """The filter of a list query."""
    clauses: list[Filter] = [scope(cluster)]
    if namespace is not None:
        clauses.append({"namespace": namespace})
    if search:
        clauses.append({"name": {"$regex": re.escape(search), "$options": "i"}})
    clauses.extend(_label_filter(req) for req in requirements)
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def sort_keys(sort: SortKey) -> IndexKeys:
    """The sort of a list query: the field, then namespace and name (pages never overlap)."""
    direction = -1 if sort.descending else 1
    if sort.field == "namespace":
        return [("namespace", direction), ("name", direction)]
    if sort.field == "name":
        return [("name", direction), ("namespace", direction)]
    return [(sort.field, direction), ("namespace", direction), ("name", direction)]


_COMPARISON = {"==": "$eq", "!=": "$ne", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}


def group_pipeline(
    cluster: str, field: str | FieldComparison, *, namespace: str | None
) -> list[dict[str, Any]]:
    """The aggregation of ``Backend.group_counts``: ``[{_id: value, n: count}, ...]``."""
    match = scope(cluster)
    if namespace is not None:
        match["namespace"] = namespace
    key: Any
    if isinstance(field, FieldComparison):
        left, right = f"${field.left}", f"${field.right}"
        missing = {
            "$or": [
                {"$eq": [{"$ifNull": [left, None]}, None]},
                {"$eq": [{"$ifNull": [right, None]}, None]},
            ]
        }
        key = {"$cond": [missing, None, {_COMPARISON[field.op]: [left, right]}]}
    else:
        key = {"$ifNull": [f"${field}", None]}  # missing and null are one group, as in SQLite
    return [{"$match": match}, {"$group": {"_id": key, "n": {"$sum": 1}}}]


def index_specs(indexes: Sequence[tuple[str, ...]]) -> list[tuple[str, IndexKeys, bool]]:
    """``(name, keys, unique)`` of every index of a resource's collection, each led by the
    cluster so that one database can hold several clusters' mirrors."""
    c = (CLUSTER_FIELD, 1)
    specs: list[tuple[str, IndexKeys, bool]] = [
        # unique: a second uid under one key means the object was deleted and recreated
        ("cluster_namespace_name", [c, ("namespace", 1), ("name", 1)], True),
        ("cluster_name", [c, ("name", 1), ("namespace", 1)], False),
        ("cluster_labels", [c, (f"{LABELS_FIELD}.k", 1), (f"{LABELS_FIELD}.v", 1)], False),
        ("cluster_created", [c, ("creationTimestamp", 1)], False),
    ]
    for fields in indexes:
        name = "cluster_" + "_".join(f.replace(".", "_") for f in fields)
        specs.append((name, [c, *((f, 1) for f in fields)], False))
    return specs
