"""Metadata building blocks shared by the simulated cluster's object factories.

Place in the data flow: below ``objects_*.py`` (the per-kind factories), which ``objects.populate``
and ``churn.ChurnGenerator`` call before handing objects to ``ClusterState``. Everything here is a
pure function of its arguments (randomness only from the ``random.Random`` passed in), so any
thread may call it; it owns no state.

What it reproduces, because the informer and the mirror must cope with it in real clusters:
generated names with the controllers' alphabets, ``ownerReferences`` with ``controller`` and
``blockOwnerDeletion``, ``managedFields`` entries in the FieldsV1 format derived from the fields
each manager really writes, and the ways people deploy (``kubectl apply`` leaves the whole
manifest in ``kubectl.kubernetes.io/last-applied-configuration``; Helm and Argo CD leave labels
instead).
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from typing import Any

import orjson

Obj = dict[str, Any]
"""A raw Kubernetes object in API JSON form (camelCase keys), as the API server serves it."""

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""Alphabet of generated names and pod-template-hash (``k8s.io/apimachinery/pkg/util/rand``):
no vowels, so no accidental words, and no look-alike characters."""

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

DEPLOYERS = ("kubectl-client-side-apply", "helm", "argocd-controller", "kubectl-create")
"""Field managers of the tools people deploy with; each leaves a different trace on an object."""

# Lists whose items the API merges by key (listType=map); every other list of objects is atomic.
_LIST_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "conditions": ("type",),
    "podIPs": ("ip",),
    "hostIPs": ("ip",),
    "addresses": ("type",),
    "ownerReferences": ("uid",),
    "imagePullSecrets": ("name",),
}


def resolve_now(now: float | None) -> float:
    """``now`` as given, or the wall clock: factories take ``now`` so callers can pin time."""
    return time.time() if now is None else now


def rfc3339(t: float) -> str:
    """A Kubernetes ``Time``: RFC 3339 in UTC with second precision, as the API serialises it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def micro_time(t: float) -> str:
    """A Kubernetes ``MicroTime`` (microsecond precision), used by leases and new-style events."""
    micros = round((t - int(t)) * 1_000_000) % 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{micros:06d}Z"


def suffix(rng: random.Random, n: int = 5) -> str:
    """The random tail of a generated name (``generateName``: pods, endpointslices)."""
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(n))


def template_hash(rng: random.Random) -> str:
    """A pod-template-hash / controller-revision-hash: 8 to 10 characters of the safe alphabet."""
    return suffix(rng, rng.randint(8, 10))


def hex_digits(rng: random.Random, n: int) -> str:
    """``n`` random lowercase hex digits (container IDs, event name suffixes)."""
    return f"{rng.getrandbits(4 * n):0{n}x}"


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID string drawn from ``rng`` (machine IDs, boot IDs: not object uids)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def image_digest(image: str) -> str:
    """A stable ``sha256:`` digest for an image reference: one image, one digest, in every pod."""
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def owner_ref(owner: Obj) -> Obj:
    """The ``ownerReference`` a controller puts on what it creates (controller, blocks deletion).

    ``owner`` must be the object as ``ClusterState.create`` returned it: the uid is server-set.
    """
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def object_ref(obj: Obj, *, field_path: str | None = None) -> Obj:
    """An ``ObjectReference`` to ``obj`` (events' involvedObject, PV claimRef, CronJob active)."""
    meta = obj["metadata"]
    ref: Obj = {"kind": obj["kind"]}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    ref["name"] = meta["name"]
    ref["uid"] = meta["uid"]
    ref["apiVersion"] = obj["apiVersion"]
    ref["resourceVersion"] = meta["resourceVersion"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


def metadata(
    *,
    name: str,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner: Obj | None = None,
    generate_name: str | None = None,
    finalizers: list[str] | None = None,
) -> Obj:
    """``metadata`` as a client submits it; ``ClusterState`` adds uid, resourceVersion, etc."""
    meta: Obj = {"name": name}
    if generate_name:
        meta["generateName"] = generate_name
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner is not None:
        meta["ownerReferences"] = [owner_ref(owner)]
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return meta


def fields_v1(fragment: Obj) -> Obj:
    """The FieldsV1 set for ``fragment``: ``{"f:spec": {"f:replicas": {}, ...}}``.

    Nested maps own themselves (``"."``); keyed lists use ``k:{...}`` item keys; other lists are
    atomic (``{}``), except ``finalizers``, a set, whose members appear as ``v:"..."``.
    """
    return {f"f:{key}": _field_set(key, value, depth=1) for key, value in fragment.items()}


def _field_set(key: str, value: Any, *, depth: int) -> Obj:
    if isinstance(value, dict):
        if not value:
            return {}
        nested: Obj = {".": {}} if depth >= 2 else {}
        for k, v in value.items():
            # most fields are scalars: skip the call for them (this runs for every object)
            nested[f"f:{k}"] = (
                _field_set(k, v, depth=depth + 1) if isinstance(v, (dict, list)) else {}
            )
        return nested
    if isinstance(value, list) and value:
        if key == "finalizers":
            members: Obj = {".": {}}
            members.update({"v:" + orjson.dumps(item).decode(): {} for item in value})
            return members
        item_keys = _item_key_fields(key, value[0])
        if item_keys is None:
            return {}
        items: Obj = {".": {}} if depth >= 3 else {}
        for item in value:
            item_key = {k: item[k] for k in item_keys if k in item}
            entry: Obj = {".": {}}
            for k, v in item.items():
                entry[f"f:{k}"] = (
                    _field_set(k, v, depth=depth + 2) if isinstance(v, (dict, list)) else {}
                )
            items["k:" + orjson.dumps(item_key).decode()] = entry
        return items
    return {}


def _item_key_fields(key: str, first: Any) -> tuple[str, ...] | None:
    if not isinstance(first, dict):
        return None
    if key == "ports":
        # container ports merge on (containerPort, protocol), service ports on (port, protocol)
        return ("containerPort", "protocol") if "containerPort" in first else ("port", "protocol")
    return _LIST_KEYS.get(key)


def managed_entry(
    manager: str,
    *,
    api_version: str,
    now: float,
    fragment: Obj,
    operation: str = "Update",
    subresource: str | None = None,
) -> Obj:
    """One ``managedFields`` entry claiming the fields of ``fragment`` for ``manager``."""
    entry: Obj = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": rfc3339(now),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1(fragment),
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def user_fragment(obj: Obj, *, body_keys: tuple[str, ...] = ("spec",)) -> Obj:
    """The part of ``obj`` a user's manifest sets: labels, annotations and the body."""
    meta = obj["metadata"]
    fragment: Obj = {}
    user_meta = {k: meta[k] for k in ("labels", "annotations") if meta.get(k)}
    if user_meta:
        fragment["metadata"] = user_meta
    for key in body_keys:
        if key in obj:
            fragment[key] = obj[key]
    return fragment


def deploy_with(
    obj: Obj,
    deployer: str,
    *,
    now: float,
    release: str,
    body_keys: tuple[str, ...] = ("spec",),
) -> None:
    """Mark ``obj`` (in place) the way ``deployer`` leaves objects it created.

    Call before adding status and controller-owned fields: the user's manager owns what the
    manifest said, nothing more. ``release`` names the Helm release or Argo CD application.
    """
    meta = obj["metadata"]
    labels: dict[str, str] = meta.setdefault("labels", {})
    annotations: dict[str, str] = meta.setdefault("annotations", {})
    operation = "Update"
    if deployer == "helm":
        labels["app.kubernetes.io/managed-by"] = "Helm"
        labels.setdefault("app.kubernetes.io/instance", release)
        labels["helm.sh/chart"] = f"{release}-{1 + len(release) % 4}.{len(release) % 7}.0"
        annotations["meta.helm.sh/release-name"] = release
        annotations["meta.helm.sh/release-namespace"] = meta.get("namespace", "default")
    elif deployer == "argocd-controller":
        labels.setdefault("app.kubernetes.io/instance", release)
        annotations["argocd.argoproj.io/tracking-id"] = (
            f"{release}:{obj['apiVersion'].split('/')[0] if '/' in obj['apiVersion'] else ''}"
            f"/{obj['kind']}:{meta.get('namespace', '')}/{meta['name']}"
        )
        operation = "Apply"
    elif deployer == "kubectl-client-side-apply":
        annotations[LAST_APPLIED] = last_applied(obj, body_keys=body_keys)
    if not labels:
        del meta["labels"]
    if not annotations:
        del meta["annotations"]
    fragment = user_fragment(obj, body_keys=body_keys)
    if fragment:
        meta.setdefault("managedFields", []).append(
            managed_entry(
                deployer,
                api_version=obj["apiVersion"],
                now=now,
                fragment=fragment,
                operation=operation,
            )
        )


def last_applied(obj: Obj, *, body_keys: tuple[str, ...]) -> str:
    """The manifest ``kubectl apply`` records: compact JSON plus a newline, as kubectl writes it.

    For a Secret this includes ``data``: the leak a mirror must redact.
    """
    meta = obj["metadata"]
    manifest_meta: Obj = {"annotations": {}}
    if meta.get("labels"):
        manifest_meta["labels"] = meta["labels"]
    manifest_meta["name"] = meta["name"]
    if "namespace" in meta:
        manifest_meta["namespace"] = meta["namespace"]
    manifest: Obj = {"apiVersion": obj["apiVersion"], "kind": obj["kind"]}
    for key in body_keys:
        if key in obj:
            manifest[key] = obj[key]
    manifest["metadata"] = manifest_meta
    return orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS).decode() + "\n"


def set_managed(obj: Obj, entry: Obj) -> None:
    """Put ``entry`` into ``obj``'s managedFields (in place), replacing the same manager's entry
    for the same subresource, as the API server does on every write by that manager."""
    entries: list[Obj] = obj["metadata"].setdefault("managedFields", [])
    for i, existing in enumerate(entries):
        if existing["manager"] == entry["manager"] and existing.get("subresource") == entry.get(
            "subresource"
        ):
            entries[i] = entry
            return
    entries.append(entry)


def status_entry(manager: str, obj: Obj, *, now: float) -> Obj:
    """The entry a controller writes through the ``status`` subresource."""
    return managed_entry(
        manager,
        api_version=obj["apiVersion"],
        now=now,
        fragment={"status": obj.get("status", {})},
        subresource="status",
    )


def add_managed(obj: Obj, entry: Obj) -> None:
    """Append a ``managedFields`` entry to ``obj`` (in place)."""
    obj["metadata"].setdefault("managedFields", []).append(entry)
