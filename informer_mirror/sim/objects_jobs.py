"""CronJobs, Jobs and their pods in a ``ClusterState``, the way the CronJob and Job
controllers leave them: a CronJob with a few past runs, each Job bound to its own uid
(``bind_job``) before its pod is created, the CronJob's status listing the running ones.

Place in the data flow: on top of ``objects_infra``; ``objects_apps.AppBuilder`` extends it, for
``objects.populate`` and ``churn`` (CronJobs firing). One builder per thread.
"""

from __future__ import annotations

from informer_mirror.sim import objects_catalog as catalog
from informer_mirror.sim.objects_batch import bind_job, cronjob_status, make_cronjob, make_job
from informer_mirror.sim.objects_infra import InfraBuilder
from informer_mirror.sim.objects_meta import Obj, object_ref, suffix
from informer_mirror.sim.objects_pods import make_pod_template


class JobBuilder(InfraBuilder):
    """Creates CronJobs and Jobs with their pods."""

    # -- Jobs and CronJobs -----------------------------------------------------------------------

    def cronjob_app(self, namespace: str, base: str) -> Obj:
        """A CronJob with a few past runs (Jobs with their pods) and its status."""
        rng = self.rng
        profile = rng.choice(catalog.BATCH_APPS)
        task = rng.choice(catalog.BATCH_TASKS)
        name = self.layout.fresh_name("cronjobs", namespace, f"{base}-{task}")
        template = make_pod_template(
            rng,
            app=base,
            namespace=namespace,
            labels={"app": name},
            profile=profile,
            restart_policy=rng.choice(("Never", "OnFailure")),
        )
        self.dependencies(namespace, template, deployer="helm")
        schedule, interval = rng.choice(catalog.SCHEDULES)
        cj = self.create(
            "cronjobs",
            make_cronjob(
                rng,
                namespace=namespace,
                name=name,
                template=template,
                schedule=schedule,
                suspend=rng.random() < 0.05,
                now=self.clock(),
            ),
        )
        last = int(self.clock() // 60 // interval * interval)
        active: list[Obj] = []
        last_success = None
        for k in range(rng.randint(1, 3) - 1, -1, -1):
            minute = last - k * interval
            phase = "Running" if k == 0 and rng.random() < 0.3 else "Succeeded"
            job = self.run_job(
                namespace, f"{name}-{minute}", owner=cj, phase=phase, scheduled=minute * 60.0
            )
            if phase == "Running":
                active.append(object_ref(job))
            else:
                last_success = minute * 60.0 + 45
        cronjob_status(cj, active=active, last_schedule=last * 60.0, last_success=last_success)
        return self.update("cronjobs", cj)

    def run_job(
        self,
        namespace: str,
        name: str,
        *,
        owner: Obj | None,
        phase: str,
        template: Obj | None = None,
        scheduled: float | None = None,
    ) -> Obj:
        """A Job (owned by the CronJob ``owner``, or standalone with ``template``) and its pod."""
        if owner is not None:
            template = owner["spec"]["jobTemplate"]["spec"]["template"]
        assert template is not None
        job = self.create(
            "jobs",
            make_job(
                self.rng,
                namespace=namespace,
                name=name,
                template=template,
                owner=owner,
                phase=phase,
                scheduled=scheduled,
                now=self.clock(),
            ),
        )
        pod_labels = bind_job(job)
        job = self.update("jobs", job)
        self.place_pod(
            {
                "namespace": namespace,
                "name": f"{name}-{suffix(self.rng)}",
                "owner": job,
                "template": job["spec"]["template"],
                "labels": pod_labels,
                "phase": phase,
            }
        )
        return job

    def job_app(self, namespace: str, base: str) -> Obj:
        """A standalone Job (a one-off migration or backfill) and its pod."""
        rng = self.rng
        name = self.layout.fresh_name(
            "jobs", namespace, f"{base}-{rng.choice(catalog.BATCH_TASKS)}"
        )
        template = make_pod_template(
            rng,
            app=base,
            namespace=namespace,
            labels={"app": name},
            profile=rng.choice(catalog.BATCH_APPS),
            restart_policy="Never",
        )
        self.dependencies(namespace, template, deployer="kubectl-create")
        phase = rng.choice(("Succeeded", "Succeeded", "Running", "Failed"))
        return self.run_job(namespace, name, owner=None, phase=phase, template=template)
