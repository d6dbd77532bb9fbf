"""Invariants of a simulated cluster's contents, shared by the object and churn tests.

Each check returns a list of readable problems (empty when the cluster is consistent), so a
failing test names every broken object at once.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from informer_mirror.sim.state import ClusterState

Snapshot = dict[str, dict[str, dict[str, Any]]]
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _key(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def owner_chain_problems(state: ClusterState) -> list[str]:
    """Every ownerReference names an existing object of that kind, name and uid (in the same
    namespace for namespaced owners); every Pod has exactly one controller; every ReplicaSet is
    controlled by a Deployment and every owned EndpointSlice by a Service."""
    snap: Snapshot = state.snapshot()
    kinds = {k.kind: k for k in state.kinds()}
    problems: list[str] = []
    for plural, objects in snap.items():
        for key, obj in objects.items():
            meta = obj["metadata"]
            refs = meta.get("ownerReferences") or []
            controllers = [r for r in refs if r.get("controller")]
            if len(controllers) > 1:
                problems.append(f"{plural} {key}: {len(controllers)} controllers")
            for ref in refs:
                kind = kinds.get(ref["kind"])
                if kind is None:
                    problems.append(f"{plural} {key}: owner of unknown kind {ref['kind']}")
                    continue
                owner_key = _key(meta.get("namespace") if kind.namespaced else None, ref["name"])
                owner = snap[kind.plural].get(owner_key)
                if owner is None:
                    problems.append(f"{plural} {key}: owner {ref['kind']} {owner_key} is gone")
                elif owner["metadata"]["uid"] != ref["uid"]:
                    problems.append(f"{plural} {key}: owner {owner_key} has another uid")
                elif ref["apiVersion"] != owner["apiVersion"]:
                    problems.append(f"{plural} {key}: owner apiVersion {ref['apiVersion']}")
            owner_kinds = {r["kind"] for r in controllers}
            if plural == "pods" and not controllers:
                problems.append(f"pods {key}: no controller")
            if plural == "replicasets" and owner_kinds != {"Deployment"}:
                problems.append(f"replicasets {key}: controlled by {owner_kinds or 'nobody'}")
            if plural == "endpointslices" and controllers and owner_kinds != {"Service"}:
                problems.append(f"endpointslices {key}: controlled by {owner_kinds}")
    return problems


def reference_problems(state: ClusterState) -> list[str]:
    """Right after populate (before churn deletes anything) every other reference resolves too:
    Events' involvedObject, PV claimRef <-> PVC volumeName, slice endpoints' pods, Job pods'
    labels, CronJob active Jobs, Ingress backends, HPA targets."""
    snap: Snapshot = state.snapshot()
    kinds = {k.kind: k for k in state.kinds()}
    problems: list[str] = []

    def resolve(ref: dict[str, Any], where: str) -> dict[str, Any] | None:
        kind = kinds[ref["kind"]]
        found = snap[kind.plural].get(
            _key(ref.get("namespace") if kind.namespaced else None, ref["name"])
        )
        if found is None or ("uid" in ref and found["metadata"]["uid"] != ref["uid"]):
            problems.append(f"{where}: {ref['kind']} {ref.get('namespace')}/{ref['name']} missing")
            return None
        return found

    for key, event in snap["events"].items():
        resolve(event["involvedObject"], f"events {key}")
    for key, pv in snap["persistentvolumes"].items():
        claim = resolve(pv["spec"]["claimRef"], f"persistentvolumes {key}")
        if claim is not None and claim["spec"].get("volumeName") != key:
            problems.append(f"persistentvolumes {key}: its claim is bound elsewhere")
        if claim is not None and claim["status"]["phase"] != "Bound":
            problems.append(f"persistentvolumes {key}: its claim is {claim['status']['phase']}")
    for key, eps in snap["endpointslices"].items():
        for endpoint in eps["endpoints"]:
            if "targetRef" in endpoint:
                resolve(endpoint["targetRef"], f"endpointslices {key}")
    for key, cj in snap["cronjobs"].items():
        for ref in cj.get("status", {}).get("active", []):
            resolve(ref, f"cronjobs {key}")
    for key, ing in snap["ingresses"].items():
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                name = path["backend"]["service"]["name"]
                if _key(ing["metadata"]["namespace"], name) not in snap["services"]:
                    problems.append(f"ingresses {key}: backend service {name} missing")
    for key, hpa in snap["horizontalpodautoscalers"].items():
        ref = dict(hpa["spec"]["scaleTargetRef"], namespace=hpa["metadata"]["namespace"])
        resolve(ref, f"horizontalpodautoscalers {key}")
    for key, pod in snap["pods"].items():
        for volume in pod["spec"].get("volumes", []):
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            if (
                claim
                and _key(pod["metadata"]["namespace"], claim) not in snap["persistentvolumeclaims"]
            ):
                problems.append(f"pods {key}: claim {claim} missing")
            config = volume.get("configMap", {}).get("name")
            if config and _key(pod["metadata"]["namespace"], config) not in snap["configmaps"]:
                problems.append(f"pods {key}: configmap {config} missing")
    return problems


def without_server_identity(state: ClusterState) -> Snapshot:
    """The snapshot with every uid replaced by the key of the object that carries it, so two
    clusters built the same way compare equal although the server drew different uids.
    (UUID-shaped values that are not uids of present objects all become ``<uid>``.)"""
    snap: Snapshot = state.snapshot()
    names: dict[str, str] = {}
    # keys without uids first: a PV's name holds its claim's uid, named by then
    for with_uid in (False, True):
        for plural, objects in snap.items():
            for key, obj in objects.items():
                if bool(_UUID.search(key)) == with_uid:
                    label = _UUID.sub(lambda m: names.get(m.group(0), "?"), key)
                    names[obj["metadata"]["uid"]] = f"<uid of {plural} {label}>"
    # uids of objects no longer present (an event about a deleted pod) all read the same
    text = _UUID.sub(lambda m: names.get(m.group(0), "<uid>"), orjson.dumps(snap).decode())
    result: Snapshot = orjson.loads(text)
    return result
