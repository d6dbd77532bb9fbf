"""Batch objects of the simulated cluster: Jobs and CronJobs.

Place in the data flow: called by ``objects_apps`` (populate) and ``churn`` (CronJobs firing, Jobs
completing and being cleaned up) to build objects for ``ClusterState``. Pure functions of their
arguments and the ``random.Random`` passed in; callable from any thread; owns nothing.

A Job's selector and labels carry its own server-set uid (``batch.kubernetes.io/controller-uid``),
so a Job is created first and then bound (``bind_job``) before its pod is created, as the API
server's defaulting and the Job controller do.
"""

from __future__ import annotations

import random

from informer_mirror.sim.objects_meta import (
    Obj,
    add_managed,
    deploy_with,
    managed_entry,
    metadata,
    resolve_now,
    rfc3339,
    set_managed,
    status_entry,
)

KCM = "kube-controller-manager"


def job_status(*, phase: str, start: float, now: float) -> Obj:
    """The Job controller's status for a one-pod job whose pod is in ``phase``."""
    status: Obj = {"startTime": rfc3339(start)}
    if phase in ("Pending", "Running"):
        status.update(active=1, ready=1 if phase == "Running" else 0)
    elif phase == "Succeeded":
        status["completionTime"] = rfc3339(now)
        status["succeeded"] = 1
        status["conditions"] = [
            {
                "type": kind,
                "status": "True",
                "lastProbeTime": rfc3339(now),
                "lastTransitionTime": rfc3339(now),
                "reason": "CompletionsReached",
                "message": "Reached expected number of succeeded pods",
            }
            for kind in ("SuccessCriteriaMet", "Complete")
        ]
        status["ready"] = 0
    else:
        status["failed"] = 1
        status["ready"] = 0
    status["terminating"] = 0
    status["uncountedTerminatedPods"] = {}
    return status


def make_job(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    template: Obj,
    owner: Obj | None = None,
    phase: str = "Running",
    scheduled: float | None = None,
    now: float | None = None,
) -> Obj:
    """A one-pod Job (owned by a CronJob when ``owner`` is given) whose pod is in ``phase``.

    The selector and the uid labels depend on the Job's server-set uid: apply ``bind_job`` to the
    created Job and write it back, as the API server's defaulting does before anyone reads it.
    """
    now = resolve_now(now)
    annotations = None
    if scheduled is not None:
        annotations = {"batch.kubernetes.io/cronjob-scheduled-timestamp": rfc3339(scheduled)}
    job: Obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(
            name=name,
            namespace=namespace,
            labels=dict(template["metadata"].get("labels", {})),
            annotations=annotations,
            owner=owner,
        ),
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": rng.choice((0, 3, 6)),
            "completionMode": "NonIndexed",
            "suspend": False,
            "podReplacementPolicy": "TerminatingOrFailed",
            "template": template,
        },
    }
    if rng.random() < 0.3:
        job["spec"]["ttlSecondsAfterFinished"] = 86400
    manager = KCM if owner is not None else "kubectl-create"
    written = {k: v for k, v in job["metadata"].items() if k not in ("name", "namespace")}
    fragment = {"metadata": written, "spec": job["spec"]}
    add_managed(job, managed_entry(manager, api_version="batch/v1", now=now, fragment=fragment))
    job["status"] = job_status(phase=phase, start=now, now=now)
    add_managed(job, status_entry(KCM, job, now=now))
    return job


def bind_job(job: Obj) -> dict[str, str]:
    """Give a created Job (in place) the uid-based selector and labels the API server defaults;
    return the labels its pods carry."""
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    uid_labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    job["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    job["spec"]["manualSelector"] = False
    template_meta = job["spec"]["template"]["metadata"]
    template_meta["labels"] = {**template_meta.get("labels", {}), **uid_labels}
    job["metadata"]["labels"] = {**job["metadata"].get("labels", {}), **uid_labels}
    return dict(template_meta["labels"])


def make_cronjob(
    rng: random.Random,
    *,
    namespace: str,
    name: str,
    template: Obj,
    schedule: str,
    suspend: bool = False,
    deployer: str = "helm",
    now: float | None = None,
) -> Obj:
    """A CronJob running ``template`` on ``schedule``; status filled in by ``cronjob_status``."""
    now = resolve_now(now)
    cj: Obj = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(name=name, namespace=namespace, labels={"app": name}),
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": rng.choice(("Forbid", "Allow", "Replace")),
            "suspend": suspend,
            "jobTemplate": {
                "metadata": {"creationTimestamp": None},
                "spec": {"backoffLimit": 2, "template": template},
            },
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
        },
    }
    if rng.random() < 0.3:
        cj["spec"]["timeZone"] = "Etc/UTC"
    deploy_with(cj, deployer, now=now, release=name)
    cj["status"] = {}
    return cj


def cronjob_status(
    cronjob: Obj, *, active: list[Obj], last_schedule: float, last_success: float | None
) -> None:
    """Set (in place) what the CronJob controller records: running jobs and schedule times.
    ``active`` holds the object references (``objects_meta.object_ref``) of running jobs."""
    status: Obj = {}
    if active:
        status["active"] = active
    status["lastScheduleTime"] = rfc3339(last_schedule)
    if last_success is not None:
        status["lastSuccessfulTime"] = rfc3339(last_success)
    cronjob["status"] = status
    set_managed(cronjob, status_entry(KCM, cronjob, now=last_schedule))
