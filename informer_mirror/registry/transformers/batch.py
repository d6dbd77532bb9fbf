"""Transformers of batch/v1: Job and CronJob.

Place in the data flow: called through ``ResourceSpec.to_document`` on each resource's reflector
thread, once per object entering the Store. Pure functions; own nothing.
"""

from __future__ import annotations

from typing import Any, TypedDict

from informer_mirror.apitypes import ObjectMeta
from informer_mirror.registry.transformers.common import (
    Doc,
    Obj,
    PodTemplateInput,
    TransformOptions,
    b,
    condition_status,
    conditions,
    i,
    items,
    m,
    s,
    workload_images,
)


class _JobSpecInput(TypedDict, total=False):
    suspend: Any
    completions: Any
    parallelism: Any
    backoffLimit: Any
    template: PodTemplateInput


class JobInput(TypedDict, total=False):
    """Everything :func:`job_fields` (and ``common_fields``) read: the Job's input schema
    (``ResourceSpec.input_schema``; ``tests/registry/test_input_schemas.py``)."""

    kind: Any
    apiVersion: Any
    metadata: ObjectMeta
    spec: _JobSpecInput
    status: Any


class _JobTemplateInput(TypedDict, total=False):
    spec: _JobSpecInput


class _CronJobSpecInput(TypedDict, total=False):
    schedule: Any
    timeZone: Any
    suspend: Any
    concurrencyPolicy: Any
    jobTemplate: _JobTemplateInput


class CronJobInput(TypedDict, total=False):
    """Everything :func:`cronjob_fields` (and ``common_fields``) read: the CronJob's input
    schema."""

    kind: Any
    apiVersion: Any
    metadata: ObjectMeta
    spec: _CronJobSpecInput
    status: Any


def job_outcome(status: Obj, *, suspended: bool) -> str:
    """One word for "Jobs by outcome": Complete, Failed, Suspended, Running or Pending.

    The terminal conditions win; ``SuccessCriteriaMet``/``FailureTarget`` (1.31+) announce them
    while the last pods are being cleaned up.
    """
    if "True" in (
        condition_status(status, "Complete"),
        condition_status(status, "SuccessCriteriaMet"),
    ):
        return "Complete"
    if "True" in (condition_status(status, "Failed"), condition_status(status, "FailureTarget")):
        return "Failed"
    if suspended or condition_status(status, "Suspended") == "True":
        return "Suspended"
    return "Running" if (i(status.get("active")) or 0) > 0 else "Pending"


def job_fields(obj: Obj, options: TransformOptions) -> Doc:
    """Job: outcome, completions/parallelism, active/succeeded/failed pods, times, images."""
    spec, status = m(obj, "spec"), m(obj, "status")
    suspended = spec.get("suspend") is True
    return {
        "outcome": job_outcome(status, suspended=suspended),
        "completions": i(spec.get("completions")),
        "parallelism": i(spec.get("parallelism")),
        "backoffLimit": i(spec.get("backoffLimit")),
        "suspend": suspended,
        "active": i(status.get("active")) or 0,
        "succeeded": i(status.get("succeeded")) or 0,
        "failed": i(status.get("failed")) or 0,
        "startTime": s(status.get("startTime")),
        "completionTime": s(status.get("completionTime")),
        "images": workload_images(obj),
        "conditions": conditions(status, options),
    }


def cronjob_fields(obj: Obj, _options: TransformOptions) -> Doc:
    """CronJob: schedule, time zone, suspend, policy, active jobs, last schedule and success."""
    spec, status = m(obj, "spec"), m(obj, "status")
    job_spec = m(spec, "jobTemplate")
    active = [n for ref in items(status.get("active")) if (n := s(ref.get("name"))) is not None]
    return {
        "schedule": s(spec.get("schedule")),
        "timeZone": s(spec.get("timeZone")),
        "suspend": b(spec.get("suspend")) is True,
        "concurrencyPolicy": s(spec.get("concurrencyPolicy")),
        "active": len(active),
        "activeJobs": active,
        "lastScheduleTime": s(status.get("lastScheduleTime")),
        "lastSuccessfulTime": s(status.get("lastSuccessfulTime")),
        "images": workload_images(job_spec),
    }
