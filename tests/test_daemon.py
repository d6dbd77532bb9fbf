"""The composition root in this process, against the simulated cluster over real HTTP and SQLite:
a resource watched in several namespaces, a dead reflector restarted over its Store, and start-up
failures that must leave nothing running. (The command line around it: ``tests/e2e``.)"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from informer_mirror.daemon import Daemon, run_daemon
from informer_mirror.errors import StartupError
from informer_mirror.notify import Notifier
from informer_mirror.settings import Settings, parse_settings
from informer_mirror.sim import SimHandle
from informer_mirror.startup import StartTimeoutExtender
from tests.e2e.support import http_json
from tests.helpers import namespace_obj, pod_obj, wait_until


def settings_for(tmp_path: Path, kubeconfig: Path, **sections: dict[str, Any]) -> Settings:
    data: dict[str, dict[str, Any]] = {
        "cluster": {"kubeconfig": str(kubeconfig)},
        "backend": {"kind": "sqlite", "path": str(tmp_path / "mirror.db")},
        "writer": {"flush_interval": 0.02, "drain_timeout": 5},
        "api": {"port": 0},
        # One round at start, then none: the tests run rounds themselves.
        "health": {"interval": 3600},
    }
    data.update(sections)
    return parse_settings(data, env={}, base_dir=tmp_path)


@contextmanager
def running(settings: Settings) -> Iterator[Daemon]:
    daemon = Daemon(settings, stop=threading.Event(), notifier=Notifier(None))
    try:
        assert daemon.start()
        yield daemon
    finally:
        assert daemon.shutdown()


def api(daemon: Daemon, path: str) -> Any:
    assert daemon.api is not None
    code, body = http_json(daemon.api.url + path)
    assert code == 200, body
    return body


def wait_ready(daemon: Daemon) -> None:
    assert daemon.api is not None
    url = daemon.api.url
    wait_until(lambda: http_json(url + "/readyz")[0] == 200, 10, message="not ready")


def pod_names(daemon: Daemon) -> set[str]:
    page = api(daemon, "/api/v1/pods?limit=1000")
    return {f"{item['namespace']}/{item['name']}" for item in page["items"]}


def pod_lists(sim: SimHandle) -> list[str]:
    """Query strings of the list requests for pods the sim answered."""
    queries = [r.query for r in sim.faults.requests("/pods") if "watch=true" not in r.query]
    assert len(queries) >= 2  # one per namespace
    return queries


def reflector_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith(("reflector/", "writer-"))}


def test_a_resource_watched_in_several_namespaces_has_one_reflector_each_feeding_one_mirror(
    sim: SimHandle, tmp_path: Path
) -> None:
    for namespace in ("team-a", "team-b", "other"):
        sim.state.create("namespaces", namespace_obj(namespace))
        for n in range(2):
            sim.state.create("pods", pod_obj(f"web-{n}", namespace))
    settings = settings_for(
        tmp_path,
        sim.write_kubeconfig(tmp_path / "kubeconfig"),
        resources={"include": ["pods", "namespaces"], "namespaces": ["team-a", "team-b"]},
    )
    in_scope = {f"{ns}/web-{n}" for ns in ("team-a", "team-b") for n in range(2)}
    with running(settings) as daemon:
        wait_ready(daemon)
        # A fresh mirror may list from the watch cache ("0")...
        assert all("resourceVersion=0" in query for query in pod_lists(sim))
        assert {"reflector/pods/team-a", "reflector/pods/team-b"} <= reflector_threads()
        assert pod_names(daemon) == in_scope
        informer = api(daemon, "/api/v1/status")["informers"]["pods"]
        assert informer["synced"] is True and informer["storeObjects"] == 4
        assert informer["resourceVersion"].startswith("team-a=")
        stores = [slot.informer.store for slot in daemon.resources["pods"].slots]
        assert len(stores) == 2 and stores[0]._codec is stores[1]._codec, "one codec per resource"

        sim.state.create("pods", pod_obj("new", "team-b"))
        sim.state.delete("pods", "team-a", "web-0")
        sim.state.create("pods", pod_obj("outside", "other"))
        in_scope = (in_scope | {"team-b/new"}) - {"team-a/web-0"}
        wait_until(lambda: pod_names(daemon) == in_scope, 10)

    # A warm restart sweeps what was deleted meanwhile, in every namespace of the resource.
    sim.state.delete("pods", "team-b", "web-1")
    sim.faults.clear_requests()
    with running(settings) as daemon:
        wait_ready(daemon)
        # ...one whose backend holds state lists consistently (pitfall 3: never older data).
        assert all("resourceVersion" not in query for query in pod_lists(sim))
        assert pod_names(daemon) == in_scope - {"team-b/web-1"}
        progress = api(daemon, "/api/v1/status")["writer"]["resources"]["pods"]
        assert (progress["staleDeleted"], progress["upserted"]) == (1, 0)
    assert reflector_threads() == set()


def test_a_dead_reflector_is_restarted_over_its_store_from_its_last_resource_version(
    sim: SimHandle, tmp_path: Path
) -> None:
    sim.state.create("namespaces", namespace_obj("default"))
    for n in range(3):
        sim.state.create("pods", pod_obj(f"web-{n}"))
    settings = settings_for(
        tmp_path, sim.write_kubeconfig(tmp_path / "kubeconfig"), resources={"include": ["pods"]}
    )
    with running(settings) as daemon:
        wait_ready(daemon)
        slot = daemon.resources["pods"].slots[0]
        store = slot.store
        old = slot.informer
        resume = old.reflector.last_sync_resource_version
        old.reflector.stop()  # the thread ends as if it had died
        assert old.join(5) and not slot.alive()
        sim.faults.clear_requests()

        assert daemon.monitor is not None
        report = daemon.monitor.run_once()
        assert report.restarted == ("pods",) and report.checks["reflector/pods"] is None
        assert slot.informer is not old and slot.store is store and len(store) == 3
        wait_until(lambda: slot.informer.has_synced, 10)
        lists = [r.query for r in sim.faults.requests("/pods") if "watch" not in r.query]
        assert f"resourceVersion={resume}" in lists[0]
        # Nothing changed: the relist found every object current and queued no write.
        progress = api(daemon, "/api/v1/status")["writer"]["resources"]["pods"]
        assert progress["upserted"] == 3

        sim.state.create("pods", pod_obj("after-restart"))
        wait_until(lambda: "default/after-restart" in pod_names(daemon), 10)
        assert api(daemon, "/api/v1/status")["writer"]["resources"]["pods"]["upserted"] == 4


def test_an_api_port_in_use_fails_the_start_with_one_clear_message_and_leaves_nothing_running(
    sim: SimHandle, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = settings_for(
            tmp_path, sim.write_kubeconfig(tmp_path / "kubeconfig"), api={"port": port}
        )
        with pytest.raises(StartupError) as error:
            run_daemon(settings, stop=threading.Event(), notifier=Notifier(None))
    assert str(error.value) == f"api: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert reflector_threads() == set()
    assert not any(t.name == "health" for t in threading.enumerate())


def test_a_file_that_is_not_a_database_is_not_retried_and_fails_the_start(
    sim: SimHandle, tmp_path: Path
) -> None:
    bogus = tmp_path / "mirror.db"
    bogus.write_bytes(b"this is not an SQLite database, " * 100)
    settings = settings_for(tmp_path, sim.write_kubeconfig(tmp_path / "kubeconfig"))
    with pytest.raises(StartupError, match=rf"^backend sqlite {bogus}: cannot be used: "):
        run_daemon(settings, stop=threading.Event(), notifier=Notifier(None))


def test_a_stop_requested_before_the_backend_answers_ends_the_start_quietly_with_exit_0(
    sim: SimHandle, tmp_path: Path
) -> None:
    stop = threading.Event()
    stop.set()
    settings = settings_for(tmp_path, sim.write_kubeconfig(tmp_path / "kubeconfig"))
    assert run_daemon(settings, stop=stop, notifier=Notifier(None)) == 0
    assert not (tmp_path / "mirror.db").exists()
    assert reflector_threads() == set()


def test_a_long_first_sync_asks_systemd_for_more_time_only_while_it_makes_progress() -> None:
    name = f"informer-mirror-extend-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        listener.setblocking(False)
        now = [0.0]
        extender = StartTimeoutExtender(Notifier(f"@{name}"), clock=lambda: now[0], every=30, by=90)
        sent = []
        for seconds, progress in ((10, (1,)), (31, (1,)), (45, (2,)), (62, (3,)), (93, (3,))):
            now[0] = seconds
            sent.append(extender.observe(progress))
        # Too early; moved since the start; too early; moved; stuck.
        assert sent == [False, True, False, True, False]
        messages = []
        with contextlib.suppress(BlockingIOError):
            while True:
                messages.append(listener.recv(4096).decode())
    assert messages == ["EXTEND_TIMEOUT_USEC=90000000"] * 2
