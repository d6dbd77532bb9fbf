"""Core (v1) objects of the simulated cluster other than Pods, Services and Events: Namespaces,
Nodes, ConfigMaps, Secrets, ServiceAccounts, PersistentVolumeClaims and PersistentVolumes.

Place in the data flow: called by ``objects.populate`` and ``churn`` to build objects for
``ClusterState``. Pure functions of their arguments and the ``random.Random`` passed in; callable
from any thread; owns nothing.

Details that matter to a mirror are reproduced: Secret values are random per object (so a leak in
a test is traceable), ``kubectl apply`` leaves a Secret's data in the last-applied annotation,
Nodes carry large status (images, conditions with heartbeats), and PVC/PV pairs are bound to each
other by name and uid.
"""

from __future__ import annotations

import base64
import json
import random

from informer_mirror.sim.objects_catalog import INSTANCE_TYPES
from informer_mirror.sim.objects_meta import (
    Obj,
    add_managed,
    deploy_with,
    hex_digits,
    image_digest,
    managed_entry,
    metadata,
    random_uuid,
    resolve_now,
    rfc3339,
    status_entry,
)

KUBELET_VERSION = "v1.30.2"
CSI_DRIVER = "ebs.csi.aws.com"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def make_namespace(
    rng: random.Random,
    *,
    name: str,
    labels: dict[str, str] | None = None,
    deployer: str = "kubectl-create",
    now: float | None = None,
) -> Obj:
    """An active Namespace (the API server labels it with its own name)."""
    now = resolve_now(now)
    ns: Obj = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": metadata(
            name=name, labels={**(labels or {}), "kubernetes.io/metadata.name": name}
        ),
        "spec": {"finalizers": ["kubernetes"]},
    }
    deploy_with(ns, deployer, now=now, release=name, body_keys=())
    ns["status"] = {"phase": "Active"}
    return ns


def node_conditions(now: float, *, ready: bool = True, heartbeat: float | None = None) -> list[Obj]:
    """The kubelet's node conditions; ``heartbeat`` is the time of the last status update."""
    beat = rfc3339(heartbeat if heartbeat is not None else now)
    since = rfc3339(now)
    pressure = (
        ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    )
    conditions = [
        {
            "type": kind,
            "status": "False",
            "lastHeartbeatTime": beat,
            "lastTransitionTime": since,
            "reason": reason,
            "message": message,
        }
        for kind, reason, message in pressure
    ]
    conditions.append(
        {
            "type": "Ready",
            "status": "True" if ready else "Unknown",
            "lastHeartbeatTime": beat,
            "lastTransitionTime": since,
            "reason": "KubeletReady" if ready else "NodeStatusUnknown",
            "message": "kubelet is posting ready status"
            if ready
            else "Kubelet stopped posting node status.",
        }
    )
    return conditions


def make_node(
    rng: random.Random,
    *,
    name: str,
    internal_ip: str,
    pod_cidr: str,
    zone: str,
    control_plane: bool = False,
    pool: str = "general",
    images: list[str] | None = None,
    now: float | None = None,
) -> Obj:
    """A Ready node: capacity/allocatable from its instance type, role labels, a control-plane
    taint when ``control_plane``, addresses, nodeInfo, and the ``images`` it has pulled."""
    now = resolve_now(now)
    instance, cpus, mem_gib = rng.choice(INSTANCE_TYPES)
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": instance,
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": instance,
        "topology.kubernetes.io/region": zone[:-1],
        "topology.kubernetes.io/zone": zone,
        "topology.ebs.csi.aws.com/zone": zone,
    }
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    else:
        labels["node-role.kubernetes.io/worker"] = ""
        labels["node.kubernetes.io/pool"] = pool
    annotations = {
        "alpha.kubernetes.io/provided-node-ip": internal_ip,
        "csi.volume.kubernetes.io/nodeid": json.dumps({CSI_DRIVER: f"i-{hex_digits(rng, 17)}"}),
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    node: Obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": metadata(name=name, labels=labels, annotations=annotations),
        "spec": {
            "podCIDR": pod_cidr,
            "podCIDRs": [pod_cidr],
            "providerID": f"aws:///{zone}/i-{hex_digits(rng, 17)}",
        },
    }
    if control_plane:
        node["spec"]["taints"] = [
            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
        ]
    add_managed(
        node,
        managed_entry(
            "kubelet", api_version="v1", now=now, fragment={"metadata": node["metadata"]}
        ),
    )
    add_managed(
        node,
        managed_entry(
            "kube-controller-manager",
            api_version="v1",
            now=now,
            fragment={"spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}},
        ),
    )
    mem_ki = mem_gib * 1024 * 1024
    reserved_ki = 1024 * 1024 + mem_gib * 16 * 1024
    node["status"] = {
        "capacity": {
            "cpu": str(cpus),
            "ephemeral-storage": "104845292Ki",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "memory": f"{mem_ki}Ki",
            "pods": "110",
        },
        "allocatable": {
            "cpu": f"{cpus * 1000 - 90}m",
            "ephemeral-storage": "95551679124",
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "memory": f"{mem_ki - reserved_ki}Ki",
            "pods": "110",
        },
        "conditions": node_conditions(now),
        "addresses": [
            {"type": "InternalIP", "address": internal_ip},
            {"type": "InternalDNS", "address": name},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": random_uuid(rng).replace("-", ""),
            "systemUUID": random_uuid(rng).upper(),
            "bootID": random_uuid(rng),
            "kernelVersion": "6.1.94-99.176.amzn2023.x86_64",
            "osImage": "Amazon Linux 2023.5.20240624",
            "containerRuntimeVersion": "containerd://1.7.11",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
        "images": [
            {
                "names": [f"{image.rsplit(':', 1)[0]}@{image_digest(image)}", image],
                "sizeBytes": 5_000_000 + int(image_digest(image)[7:15], 16) % 400_000_000,
            }
            for image in (images or [])
        ],
    }
    add_managed(node, status_entry("kubelet", node, now=now))
    return node


def make_configmap(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    data: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    owner: Obj | None = None,
    deployer: str = "kubectl-client-side-apply",
    now: float | None = None,
) -> Obj:
    """A ConfigMap; without ``data``, an application's configuration file and a few settings."""
    now = resolve_now(now)
    if data is None:
        app = name.removesuffix("-config")
        data = {
            "application.yaml": (
                f"server:\n  port: 8080\n  shutdownTimeout: {rng.choice((10, 20, 30))}s\n"
                f"logging:\n  level: {rng.choice(('info', 'debug', 'warn'))}\n"
                f"database:\n  host: {app}-db\n  pool:\n    max: {rng.choice((10, 20, 50))}\n"
                f"features:\n  newCheckout: {rng.choice(('true', 'false'))}\n"
                f"  rolloutPercent: {rng.randint(0, 100)}\n"
            ),
            "LOG_FORMAT": "json",
            "CACHE_TTL_SECONDS": str(rng.choice((30, 60, 300, 900))),
        }
    cm: Obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(name=name, namespace=namespace, labels=labels, owner=owner),
        "data": dict(data),
    }
    deploy_with(cm, deployer, now=now, release=name, body_keys=("data",))
    return cm


def make_secret(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    type_: str = "Opaque",
    hosts: tuple[str, ...] = (),
    deployer: str = "kubectl-client-side-apply",
    now: float | None = None,
) -> Obj:
    """A Secret of ``type_`` Opaque, kubernetes.io/tls or kubernetes.io/dockerconfigjson; its
    values are random bytes unique to this object."""
    now = resolve_now(now)
    if type_ == "kubernetes.io/tls":
        data = {
            "tls.crt": _b64(_pem(rng, "CERTIFICATE", 900)),
            "tls.key": _b64(_pem(rng, "PRIVATE KEY", 1200)),
        }
    elif type_ == "kubernetes.io/dockerconfigjson":
        token = _b64(rng.randbytes(24))
        auth = _b64(f"robot$ci:{token}".encode())
        config = {
            "auths": {
                "registry.example.com": {"username": "robot$ci", "password": token, "auth": auth}
            }
        }
        data = {".dockerconfigjson": _b64(json.dumps(config).encode())}
    else:
        password = _b64(rng.randbytes(18))
        data = {
            "username": _b64(name.encode()),
            "password": _b64(password.encode()),
            "url": _b64(f"postgres://{name}:{password}@{name}.{namespace}:5432/app".encode()),
        }
    secret: Obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name=name, namespace=namespace, labels={"app": name}),
        "type": type_,
        "data": data,
    }
    if type_ == "kubernetes.io/tls" and hosts:
        secret["metadata"]["annotations"] = {
            "cert-manager.io/alt-names": ",".join(hosts),
            "cert-manager.io/issuer-name": "letsencrypt-prod",
            "cert-manager.io/issuer-kind": "ClusterIssuer",
        }
        deployer = "cert-manager-certificates-issuing"
    deploy_with(secret, deployer, now=now, release=name, body_keys=("type", "data"))
    return secret


def _pem(rng: random.Random, label: str, size: int) -> bytes:
    body = base64.encodebytes(rng.randbytes(size)).decode()
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode()


def cluster_ca(rng: random.Random) -> str:
    """The cluster CA bundle every namespace's ``kube-root-ca.crt`` ConfigMap carries."""
    return _pem(rng, "CERTIFICATE", 800).decode()


def make_serviceaccount(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    deployer: str = "helm",
    now: float | None = None,
) -> Obj:
    """A ServiceAccount, sometimes bound to a cloud IAM role or with an image pull secret."""
    now = resolve_now(now)
    sa: Obj = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(name=name, namespace=namespace),
    }
    if name != "default" and rng.random() < 0.4:
        role = f"arn:aws:iam::{rng.randint(10**11, 10**12 - 1)}:role/{namespace}-{name}"
        sa["metadata"]["annotations"] = {"eks.amazonaws.com/role-arn": role}
    if name != "default" and rng.random() < 0.2:
        sa["imagePullSecrets"] = [{"name": "registry-credentials"}]
    if name != "default":
        deploy_with(sa, deployer, now=now, release=name, body_keys=("imagePullSecrets",))
    return sa
