"""The kubelet's side of a Pod in the simulated cluster: its status and how it changes.

Place in the data flow: ``objects_pods.make_pod`` writes a fresh pod's status with
``pod_status``; ``churn`` moves pods along with ``advance_pod`` (Pending -> Running, container
restarts, readiness flips, crash loops and recoveries, job pods completing), each change
recorded in the kubelet's ``managedFields`` entry as the real status updates are. Pure functions
of their arguments and the ``random.Random`` passed in; callable from any thread; owns nothing.
"""

from __future__ import annotations

import random

from informer_mirror.sim.objects_meta import (
    Obj,
    hex_digits,
    image_digest,
    rfc3339,
    set_managed,
    status_entry,
)


def qos_class(spec: Obj) -> str:
    """The pod's QoS class, computed from its containers' resources as the API server does."""
    containers = spec["containers"] + spec.get("initContainers", [])
    guaranteed, any_set = True, False
    for c in containers:
        requests = c.get("resources", {}).get("requests", {})
        limits = c.get("resources", {}).get("limits", {})
        any_set = any_set or bool(requests or limits)
        for resource in ("cpu", "memory"):
            if (
                resource not in limits
                or requests.get(resource, limits[resource]) != limits[resource]
            ):
                guaranteed = False
    if guaranteed and any_set:
        return "Guaranteed"
    return "Burstable" if any_set else "BestEffort"


def _condition(kind: str, status: bool, now: float, reason: str = "", message: str = "") -> Obj:
    cond: Obj = {"type": kind, "status": "True" if status else "False", "lastProbeTime": None}
    cond["lastTransitionTime"] = rfc3339(now)
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _terminated(rng: random.Random, now: float, *, exit_code: int, reason: str) -> Obj:
    started = now - rng.randint(30, 3600)
    return {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": rfc3339(started),
        "finishedAt": rfc3339(now - rng.randint(1, 29)),
        "containerID": f"containerd://{hex_digits(rng, 64)}",
    }


def container_status(rng: random.Random, container: Obj, *, state: str, now: float) -> Obj:
    """The kubelet's status of one container: ``running``, ``waiting``, ``crashloop``,
    ``completed`` or ``error``."""
    image = container["image"]
    status: Obj = {"name": container["name"], "state": {}, "lastState": {}}
    ready = state == "running"
    if state == "running":
        status["state"] = {"running": {"startedAt": rfc3339(now)}}
    elif state == "waiting":
        status["state"] = {"waiting": {"reason": "ContainerCreating"}}
    elif state == "crashloop":
        message = f"back-off 5m0s restarting failed container={container['name']}"
        status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
        status["lastState"] = {"terminated": _terminated(rng, now, exit_code=1, reason="Error")}
    else:
        code, reason = (0, "Completed") if state == "completed" else (1, "Error")
        status["state"] = {"terminated": _terminated(rng, now, exit_code=code, reason=reason)}
    status["ready"] = ready
    status["restartCount"] = rng.randint(1, 12) if state == "crashloop" else 0
    status["image"] = image if "/" in image.split(":")[0] else f"docker.io/library/{image}"
    if state != "waiting":
        status["imageID"] = f"{image.rsplit(':', 1)[0]}@{image_digest(image)}"
        status["containerID"] = f"containerd://{hex_digits(rng, 64)}"
    else:
        status["imageID"] = ""
    status["started"] = state == "running"
    return status


def pod_status(
    rng: random.Random, spec: Obj, *, phase: str, host_ip: str, pod_ip: str, now: float
) -> Obj:
    """A kubelet-written PodStatus for ``phase`` (Pending, Running, Succeeded, Failed)."""
    crashloop = phase == "Running" and rng.random() < 0.03
    state = {
        "Pending": "waiting",
        "Running": "running",
        "Succeeded": "completed",
        "Failed": "error",
    }[phase]
    names = [c["name"] for c in spec["containers"]]
    ready = phase == "Running" and not crashloop
    done = phase in ("Succeeded", "Failed")
    not_ready_reason = "PodCompleted" if done else "ContainersNotReady"
    not_ready_message = "" if done else f"containers with unready status: [{' '.join(names)}]"
    conditions = [
        _condition("PodReadyToStartContainers", phase != "Pending" and not done, now),
        _condition("Initialized", phase != "Pending" or "initContainers" not in spec, now),
        _condition("Ready", ready, now, *(() if ready else (not_ready_reason, not_ready_message))),
        _condition(
            "ContainersReady", ready, now, *(() if ready else (not_ready_reason, not_ready_message))
        ),
        _condition("PodScheduled", True, now),
    ]
    status: Obj = {"phase": phase, "conditions": conditions, "hostIP": host_ip}
    status["hostIPs"] = [{"ip": host_ip}]
    if phase != "Pending":
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    status["startTime"] = rfc3339(now)
    if "initContainers" in spec:
        status["initContainerStatuses"] = [
            container_status(
                rng, c, state="completed" if phase != "Pending" else "waiting", now=now
            )
            for c in spec["initContainers"]
        ]
    statuses = [container_status(rng, c, state=state, now=now) for c in spec["containers"]]
    if crashloop:
        statuses[0] = container_status(rng, spec["containers"][0], state="crashloop", now=now)
    status["containerStatuses"] = statuses
    status["qosClass"] = qos_class(spec)
    return status


def _set_readiness(pod: Obj, now: float) -> None:
    """Derive the Ready/ContainersReady conditions from the containers, as the kubelet does."""
    status = pod["status"]
    statuses = status.get("containerStatuses", [])
    unready = [c["name"] for c in statuses if not c["ready"]]
    done = status["phase"] in ("Succeeded", "Failed")
    ready = not unready and not done
    for cond in status["conditions"]:
        if cond["type"] not in ("Ready", "ContainersReady"):
            continue
        value = "True" if ready else "False"
        if cond["status"] != value:
            cond["status"] = value
            cond["lastTransitionTime"] = rfc3339(now)
        cond.pop("reason", None)
        cond.pop("message", None)
        if not ready:
            cond["reason"] = "PodCompleted" if done else "ContainersNotReady"
            if not done:
                cond["message"] = f"containers with unready status: [{' '.join(unready)}]"


def _restart(rng: random.Random, cs: Obj, now: float, *, reason: str) -> None:
    previous = cs["state"].get("running", {}).get("startedAt", rfc3339(now - 600))
    cs["lastState"] = {
        "terminated": {
            "exitCode": 137 if reason == "OOMKilled" else 1,
            "reason": reason,
            "startedAt": previous,
            "finishedAt": rfc3339(now),
            "containerID": cs.get("containerID", f"containerd://{hex_digits(rng, 64)}"),
        }
    }
    cs["restartCount"] = int(cs.get("restartCount", 0)) + 1
    cs["containerID"] = f"containerd://{hex_digits(rng, 64)}"


def advance_pod(
    pod: Obj, rng: random.Random, *, now: float, pod_ip: str, may_finish: bool = False
) -> str | None:
    """Move ``pod`` (as stored) one kubelet step on, in place; return what happened, or None
    when nothing would (a finished pod).

    Pending pods start; unready ones recover (a crash-looping container comes back, a failing
    readiness probe passes); healthy ones restart a container, fail readiness or start
    crash-looping. With ``may_finish``, a run-to-completion pod may finish instead.
    """
    status = pod["status"]
    phase = status["phase"]
    statuses: list[Obj] = status.get("containerStatuses", [])
    if phase == "Pending":
        image_of: dict[str, str] = {c["name"]: c["image"] for c in pod["spec"]["containers"]}
        for cs in statuses:
            image = image_of.get(cs["name"]) or str(cs["image"])
            cs["state"] = {"running": {"startedAt": rfc3339(now)}}
            cs.update(ready=True, started=True)
            cs["imageID"] = f"{image.rsplit(':', 1)[0]}@{image_digest(image)}"
            cs["containerID"] = f"containerd://{hex_digits(rng, 64)}"
        for cs in status.get("initContainerStatuses", []):
            cs["state"] = {"terminated": _terminated(rng, now, exit_code=0, reason="Completed")}
            cs["ready"] = True
        for cond in status["conditions"]:
            if cond["type"] in ("PodReadyToStartContainers", "Initialized") and (
                cond["status"] != "True"
            ):
                cond.update(status="True", lastTransitionTime=rfc3339(now))
        status["phase"] = "Running"
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
        change = "Pending -> Running"
    elif phase != "Running" or not statuses:
        return None
    elif may_finish and pod["spec"].get("restartPolicy") != "Always":
        complete_pod(pod, rng, now=now, succeeded=rng.random() < 0.95)
        return f"Running -> {pod['status']['phase']}"
    else:
        cs = rng.choice(statuses)
        unready = [c for c in statuses if not c["ready"]]
        restartable = pod["spec"].get("restartPolicy", "Always") != "Never"
        roll = rng.random()
        if unready:
            cs = unready[0]
            if "waiting" in cs["state"]:
                cs["state"] = {"running": {"startedAt": rfc3339(now)}}
                cs["started"] = True
            cs["ready"] = True
            change = f"container {cs['name']} ready again"
        elif restartable and roll < 0.45:
            _restart(rng, cs, now, reason=rng.choice(("Error", "OOMKilled", "Completed")))
            cs["state"] = {"running": {"startedAt": rfc3339(now)}}
            change = f"container {cs['name']} restarted ({cs['restartCount']})"
        elif not restartable or roll < 0.85:
            cs["ready"] = False
            change = f"container {cs['name']} failed its readiness probe"
        else:
            _restart(rng, cs, now, reason="Error")
            message = f"back-off 10s restarting failed container={cs['name']}"
            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
            cs.update(ready=False, started=False)
            change = f"container {cs['name']} crash-looping"
    _set_readiness(pod, now)
    set_managed(pod, status_entry("kubelet", pod, now=now))
    return change


def complete_pod(pod: Obj, rng: random.Random, *, now: float, succeeded: bool = True) -> None:
    """Finish a run-to-completion pod (in place): containers terminated, phase Succeeded or
    Failed, not ready."""
    status = pod["status"]
    for cs in status.get("containerStatuses", []):
        started = cs["state"].get("running", {}).get("startedAt", rfc3339(now - 60))
        cs["state"] = {
            "terminated": {
                "exitCode": 0 if succeeded else 1,
                "reason": "Completed" if succeeded else "Error",
                "startedAt": started,
                "finishedAt": rfc3339(now),
                "containerID": cs.get("containerID", f"containerd://{hex_digits(rng, 64)}"),
            }
        }
        cs.update(ready=False, started=False)
    status["phase"] = "Succeeded" if succeeded else "Failed"
    for cond in status["conditions"]:
        if cond["type"] == "PodReadyToStartContainers" and cond["status"] == "True":
            cond.update(status="False", lastTransitionTime=rfc3339(now))
    _set_readiness(pod, now)
    set_managed(pod, status_entry("kubelet", pod, now=now))
