"""Pods and pod templates of the simulated cluster, and the kubelet's status transitions.

Place in the data flow: called by ``objects_workloads`` (templates for Deployments, StatefulSets,
DaemonSets, Jobs), by ``objects.populate`` and by ``churn`` (new pods, phase changes, restarts,
readiness flips) before the objects go to ``ClusterState``. Pure functions of their arguments and
the ``random.Random`` passed in; callable from any thread; owns nothing.

A pod here looks like one read back from a real API server: the template as its controller wrote
it, plus what admission adds (service-account token volume, default tolerations, priority), plus
the kubelet's status (conditions, per-container state, IPs, qosClass) and both managers'
``managedFields``. That is what makes a Pod 4-8 KB of JSON, the size the mirror must handle.
"""

from __future__ import annotations

import random
import re
from typing import Any

import orjson

from informer_mirror.sim.objects_catalog import WEB_APPS, AppProfile, ContainerProfile
from informer_mirror.sim.objects_meta import (
    Obj,
    managed_entry,
    metadata,
    resolve_now,
    set_managed,
    status_entry,
    suffix,
)
from informer_mirror.sim.objects_podstatus import pod_status

_TEMPLATE_SPEC_BUDGET = 1400
_HOST_PATHS = {
    "varlog": "/var/log",
    "root": "/",
    "lib-modules": "/lib/modules",
    "etcd-data": "/var/lib/etcd",
    "etcd-certs": "/etc/kubernetes/pki/etcd",
    "k8s-certs": "/etc/kubernetes/pki",
    "kubeconfig": "/etc/kubernetes/scheduler.conf",
}
_TOLERATE_300S = [
    {
        "key": f"node.kubernetes.io/{taint}",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    }
    for taint in ("not-ready", "unreachable")
]
_DAEMON_TOLERATIONS = [
    {"key": f"node.kubernetes.io/{taint}", "operator": "Exists", "effect": effect}
    for taint, effect in (
        ("not-ready", "NoExecute"),
        ("unreachable", "NoExecute"),
        ("disk-pressure", "NoSchedule"),
        ("memory-pressure", "NoSchedule"),
        ("pid-pressure", "NoSchedule"),
        ("unschedulable", "NoSchedule"),
    )
]


def _fill(text: str, app: str, namespace: str) -> str:
    return text.replace("{app}", app).replace("{ns}", namespace)


def _double(quantity: str) -> str:
    match = re.fullmatch(r"(\d+)(\D*)", quantity)
    return f"{int(match.group(1)) * 2}{match.group(2)}" if match else quantity


def _probe(spec: str, rng: random.Random, *, initial_delay: bool) -> Obj:
    kind, _, rest = spec.partition(":")
    probe: Obj
    if kind == "http":
        path, _, port = rest.rpartition(":")
        probe = {"httpGet": {"path": path, "port": int(port), "scheme": "HTTP"}}
    elif kind == "tcp":
        probe = {"tcpSocket": {"port": int(rest)}}
    else:
        probe = {"exec": {"command": ["sh", "-c", rest]}}
    if initial_delay:
        probe["initialDelaySeconds"] = rng.choice((5, 10, 15, 30))
    probe.update(
        {
            "timeoutSeconds": rng.choice((1, 1, 3, 5)),
            "periodSeconds": rng.choice((5, 10, 10, 20)),
            "successThreshold": 1,
            "failureThreshold": 3,
        }
    )
    return probe


def _container(
    rng: random.Random, cp: ContainerProfile, *, app: str, namespace: str, hardened: bool = False
) -> Obj:
    container: Obj = {
        "name": _fill(cp.name, app, namespace),
        "image": f"{_fill(cp.image, app, namespace)}:{rng.choice(cp.tags)}",
    }
    if cp.command:
        container["command"] = [_fill(c, app, namespace) for c in cp.command]
    if cp.args:
        container["args"] = [_fill(a, app, namespace) for a in cp.args]
    if cp.ports:
        container["ports"] = [
            {"name": name, "containerPort": port, "protocol": protocol}
            for name, port, protocol in cp.ports
        ]
    env: list[Obj] = []
    for var in cp.env:
        value = _fill(var.value, app, namespace)
        if var.source == "value":
            env.append({"name": var.name, "value": value})
        elif var.source == "field":
            ref = {"apiVersion": "v1", "fieldPath": value}
            env.append({"name": var.name, "valueFrom": {"fieldRef": ref}})
        else:
            obj_name, _, key = value.partition(":")
            ref_kind = "secretKeyRef" if var.source == "secret" else "configMapKeyRef"
            env.append({"name": var.name, "valueFrom": {ref_kind: {"name": obj_name, "key": key}}})
    if env:
        container["env"] = env
    cpu, memory = rng.choice(cp.cpu), rng.choice(cp.memory)
    guaranteed = rng.random() < 0.15
    limits = {"cpu": cpu, "memory": memory} if guaranteed else {"memory": _double(memory)}
    container["resources"] = {"limits": limits, "requests": {"cpu": cpu, "memory": memory}}
    if cp.mounts:
        container["volumeMounts"] = [
            {"name": vol, "mountPath": _fill(path, app, namespace)} for vol, path in cp.mounts
        ]
    if cp.probe:
        container["livenessProbe"] = _probe(cp.probe, rng, initial_delay=True)
        container["readinessProbe"] = _probe(cp.probe, rng, initial_delay=False)
    container["terminationMessagePath"] = "/dev/termination-log"
    container["terminationMessagePolicy"] = "File"
    container["imagePullPolicy"] = "IfNotPresent"
    if hardened:
        container["securityContext"] = {"allowPrivilegeEscalation": False, "runAsNonRoot": True}
    return container


def _volume(name: str, app: str) -> Obj:
    if name in _HOST_PATHS:
        return {"name": name, "hostPath": {"path": _HOST_PATHS[name], "type": ""}}
    if name in ("config", "config-volume", "kube-proxy"):
        cm_name = {"config-volume": "coredns", "kube-proxy": "kube-proxy"}.get(
            name, f"{app}-config"
        )
        return {"name": name, "configMap": {"name": cm_name, "defaultMode": 420}}
    if name == "istio-envoy":
        return {"name": name, "emptyDir": {"medium": "Memory"}}
    return {"name": name, "emptyDir": {}}


def make_pod_template(
    rng: random.Random,
    *,
    app: str,
    namespace: str,
    labels: dict[str, str],
    profile: AppProfile | None = None,
    restart_policy: str = "Always",
    service_account: str | None = None,
    claim_volumes: tuple[str, ...] = (),
) -> Obj:
    """A ``PodTemplateSpec`` as a workload's spec carries it after API defaulting.

    ``claim_volumes`` names volumes a StatefulSet provides from its volumeClaimTemplates, so the
    template must not declare them.
    """
    profile = profile or rng.choice(WEB_APPS)
    hardened = rng.random() < 0.4
    containers = [_container(rng, profile.main, app=app, namespace=namespace, hardened=hardened)]
    spec: Obj = {}
    # At most one extra container (a sidecar or an init container), which keeps Pods in 4-8 KB.
    if profile.sidecars and rng.random() < profile.sidecar_chance:
        containers.append(
            _container(rng, rng.choice(profile.sidecars), app=app, namespace=namespace)
        )
    elif profile.init and rng.random() < profile.init_chance:
        init = rng.choice(profile.init)
        spec["initContainers"] = [_container(rng, init, app=app, namespace=namespace)]
    spec["containers"] = containers
    mounted = {
        m["name"]
        for c in containers + spec.get("initContainers", [])
        for m in c.get("volumeMounts", [])
    }
    volumes = [_volume(v, app) for v in sorted(mounted) if v not in claim_volumes]
    if volumes:
        spec["volumes"] = volumes
    spec.update(
        {
            "restartPolicy": restart_policy,
            "terminationGracePeriodSeconds": rng.choice((30, 30, 60)),
            "dnsPolicy": "ClusterFirst",
            "securityContext": {"fsGroup": 2000} if rng.random() < 0.3 else {},
            "schedulerName": "default-scheduler",
        }
    )
    if service_account:
        spec["serviceAccountName"] = service_account
    if len(containers) == 1 and "initContainers" not in spec and rng.random() < 0.2:
        spec["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": labels.get("app", app)}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        }
    _fit_budget(spec)
    return {"metadata": {"creationTimestamp": None, "labels": dict(labels)}, "spec": spec}


def _fit_budget(spec: Obj) -> None:
    # A pod is about 3.3 KB (admission defaults, status, managedFields) plus 2.5 times its
    # template; shed optional extras from templates over budget so every Pod stays under 8 KB.
    for extra in ("affinity", "securityContext", "initContainers", "sidecar"):
        if len(orjson.dumps(spec)) <= _TEMPLATE_SPEC_BUDGET:
            break
        if extra == "securityContext":
            spec["containers"][0].pop("securityContext", None)
        elif extra == "sidecar":
            del spec["containers"][1:]
        else:
            spec.pop(extra, None)
    _drop_volumes_unmounted(spec)


def _drop_volumes_unmounted(spec: Obj) -> None:
    mounted = {
        m["name"]
        for c in spec["containers"] + spec.get("initContainers", [])
        for m in c.get("volumeMounts", [])
    }
    if "volumes" in spec:
        spec["volumes"] = [v for v in spec["volumes"] if v["name"] in mounted]


def make_pod(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    node_name: str,
    owner: Obj | None = None,
    labels: dict[str, str] | None = None,
    template: Obj | None = None,
    phase: str = "Running",
    host_ip: str | None = None,
    pod_ip: str | None = None,
    manager: str = "kube-controller-manager",
    daemon: bool = False,
    now: float | None = None,
) -> Obj:
    """A scheduled Pod, created from ``template`` by ``owner``'s controller, with kubelet status.

    ``owner`` is the controlling object as ``ClusterState`` returned it; ``phase`` is Pending,
    Running (possibly crash-looping), Succeeded or Failed; ``daemon`` adds what the DaemonSet
    controller adds (node affinity, extra tolerations).
    """
    now = resolve_now(now)
    if template is None:
        app = labels.get("app", name) if labels else name
        template = make_pod_template(rng, app=app, namespace=namespace, labels=labels or {})
    tmpl_meta, tmpl_spec = template["metadata"], template["spec"]
    pod_labels = dict(tmpl_meta.get("labels", {}))
    pod_labels.update(labels or {})
    generate_name = name.rsplit("-", 1)[0] + "-" if owner is not None else None
    finalizers = ["batch.kubernetes.io/job-tracking"] if owner and owner["kind"] == "Job" else None
    meta = metadata(
        name=name,
        namespace=namespace,
        labels=pod_labels,
        annotations=tmpl_meta.get("annotations"),
        owner=owner,
        generate_name=generate_name,
        finalizers=finalizers if phase in ("Pending", "Running") else None,
    )
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {}}
    spec: Obj = pod["spec"]
    spec.update(_clone(tmpl_spec))
    token_volume = f"kube-api-access-{suffix(rng)}"
    token_mount = {
        "name": token_volume,
        "readOnly": True,
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
    }
    for container in spec["containers"] + spec.get("initContainers", []):
        container.setdefault("volumeMounts", []).append(dict(token_mount))
    spec.setdefault("volumes", []).append(_token_volume(token_volume))
    sa = spec.get("serviceAccountName", "default")
    spec.update(
        {
            "serviceAccountName": sa,
            "serviceAccount": sa,
            "nodeName": node_name,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
        }
    )
    if daemon:
        spec["affinity"] = _node_affinity(node_name)
        spec["tolerations"] = [dict(t) for t in _DAEMON_TOLERATIONS]
    else:
        spec["tolerations"] = [dict(t) for t in _TOLERATE_300S]
    if owner is None and manager == "kube-controller-manager":
        manager = "kubectl-run"  # a bare pod: someone ran it by hand
    manager_fragment = {
        "metadata": {k: v for k, v in meta.items() if k not in ("name", "namespace")},
        "spec": tmpl_spec,
    }
    pod["metadata"]["managedFields"] = [
        managed_entry(manager, api_version="v1", now=now, fragment=manager_fragment)
    ]
    host_ip = host_ip or f"10.0.{rng.randint(0, 63)}.{rng.randint(2, 254)}"
    pod_ip = pod_ip or f"10.244.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
    pod["status"] = pod_status(rng, spec, phase=phase, host_ip=host_ip, pod_ip=pod_ip, now=now)
    set_managed(pod, status_entry("kubelet", pod, now=now))
    return pod


def _clone(value: Any) -> Any:
    # Structural copy of JSON data, several times faster than copy.deepcopy.
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _token_volume(name: str) -> Obj:
    return {
        "name": name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
            "defaultMode": 420,
        },
    }


def _node_affinity(node_name: str) -> Obj:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
        }
    }
