"""Storage objects of the simulated cluster: PersistentVolumeClaims and the PersistentVolumes
dynamically provisioned for them.

Place in the data flow: called by ``objects_apps`` (StatefulSet claims) to build objects for
``ClusterState``. Pure functions of their arguments and the ``random.Random`` passed in; callable
from any thread; owns nothing.

A bound pair is made the way the cluster makes it: the claim is created Pending, the CSI
provisioner creates ``pvc-<claim uid>`` with a claimRef to the claim, and the PV controller binds
the claim (``bind_claim``: volumeName, bind annotations, status Bound).
"""

from __future__ import annotations

import random

from informer_mirror.sim.objects_meta import (
    Obj,
    add_managed,
    hex_digits,
    managed_entry,
    metadata,
    object_ref,
    resolve_now,
    rfc3339,
    status_entry,
)

CSI_DRIVER = "ebs.csi.aws.com"


def make_persistentvolumeclaim(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    storage_class: str,
    storage: str = "10Gi",
    labels: dict[str, str] | None = None,
    now: float | None = None,
) -> Obj:
    """A PVC waiting for its volume; ``bind_claim`` binds it once the PV exists."""
    now = resolve_now(now)
    pvc: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(
            name=name,
            namespace=namespace,
            labels=labels,
            annotations={
                "volume.beta.kubernetes.io/storage-provisioner": CSI_DRIVER,
                "volume.kubernetes.io/storage-provisioner": CSI_DRIVER,
            },
            finalizers=["kubernetes.io/pvc-protection"],
        ),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": storage}},
            "storageClassName": storage_class,
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Pending"},
    }
    manager = "kube-controller-manager" if labels else "kubectl-client-side-apply"
    add_managed(
        pvc, managed_entry(manager, api_version="v1", now=now, fragment={"spec": pvc["spec"]})
    )
    return pvc


def bind_claim(pvc: Obj, pv: Obj, *, now: float) -> None:
    """Bind a created PVC (in place) to its created PV, as the PV controller does."""
    annotations = pvc["metadata"].setdefault("annotations", {})
    annotations["pv.kubernetes.io/bind-completed"] = "yes"
    annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
    pvc["spec"]["volumeName"] = pv["metadata"]["name"]
    pvc["status"] = {
        "phase": "Bound",
        "accessModes": list(pv["spec"]["accessModes"]),
        "capacity": dict(pv["spec"]["capacity"]),
    }
    add_managed(pvc, status_entry("kube-controller-manager", pvc, now=now))


def make_persistentvolume(
    rng: random.Random,
    *,
    claim: Obj,
    zone: str,
    now: float | None = None,
) -> Obj:
    """The dynamically provisioned volume for ``claim`` (as created): named ``pvc-<claim uid>``,
    claimRef to it, CSI source, zone affinity, Bound."""
    now = resolve_now(now)
    spec = claim["spec"]
    pv: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": metadata(
            name=f"pvc-{claim['metadata']['uid']}",
            annotations={
                "pv.kubernetes.io/provisioned-by": CSI_DRIVER,
                "volume.kubernetes.io/provisioner-deletion-secret-name": "",
                "volume.kubernetes.io/provisioner-deletion-secret-namespace": "",
            },
            finalizers=[
                "external-provisioner.volume.kubernetes.io/finalizer",
                "kubernetes.io/pv-protection",
            ],
        ),
        "spec": {
            "accessModes": list(spec["accessModes"]),
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "claimRef": object_ref(claim),
            "csi": {
                "driver": CSI_DRIVER,
                "fsType": "ext4",
                "volumeAttributes": {
                    "storage.kubernetes.io/csiProvisionerIdentity": (
                        f"1719312345678-{rng.randint(1000, 9999)}-{CSI_DRIVER}"
                    )
                },
                "volumeHandle": f"vol-{hex_digits(rng, 17)}",
            },
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "topology.ebs.csi.aws.com/zone",
                                    "operator": "In",
                                    "values": [zone],
                                }
                            ]
                        }
                    ]
                }
            },
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": spec["storageClassName"],
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound", "lastPhaseTransitionTime": rfc3339(now)},
    }
    add_managed(
        pv,
        managed_entry("csi-provisioner", api_version="v1", now=now, fragment={"spec": pv["spec"]}),
    )
    add_managed(pv, status_entry("kube-controller-manager", pv, now=now))
    return pv
