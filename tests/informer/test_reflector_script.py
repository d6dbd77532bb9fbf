"""Reflector edge cases driven by a scripted ListerWatcher (byte sequences the sim never sends).

The protocol itself is tested against the simulated cluster in test_reflector.py; here the RV
ladder and the event filters are pinned down call by call.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from informer_mirror.errors import (
    KubeExpiredError,
    KubeResourceVersionTooLarge,
    KubeServerError,
)
from informer_mirror.informer.reflector import Reflector
from informer_mirror.informer.reflector_types import ReflectorOptions
from informer_mirror.informer.store import Store
from informer_mirror.kube import ListPage, MalformedEvent
from informer_mirror.retry import BreakerPolicy, CircuitBreaker
from tests.helpers import wait_until
from tests.informer.fake_time import FakeTime
from tests.informer.scripted_lw import ScriptedListerWatcher, bookmark, event, pod


def _expired() -> KubeExpiredError:
    return KubeExpiredError("too old", status=410, reason="Expired")


@contextmanager
def running(
    lw: ScriptedListerWatcher,
    store: Any = None,
    *,
    options: ReflectorOptions | None = None,
    resource_version: str | None = None,
    before_start: Callable[[Reflector], None] | None = None,
) -> Iterator[tuple[Reflector, Any, FakeTime]]:
    fake = FakeTime()
    store = store if store is not None else Store(name="pods")
    reflector = Reflector(
        name="pods",
        lister_watcher=lw,  # type: ignore[arg-type]
        store=store,
        options=options or ReflectorOptions(),
        resource_version=resource_version,
        stop=fake.stop_event,
        clock=fake.clock,
        rng=random.Random(7),
        wait=fake.wait,
        breaker=CircuitBreaker(BreakerPolicy(max_failures=1000), name="pods", clock=fake.clock),
    )
    fake.phase_of = lambda: reflector.state().phase.value
    if before_start is not None:
        before_start(reflector)
    reflector.start()
    try:
        yield reflector, store, fake
    finally:
        reflector.stop()
        fake.stop()
        assert reflector.join(10)


def _calls(lw: ScriptedListerWatcher, count: int) -> Callable[[], bool]:
    return lambda: len(lw.calls) >= count


def test_malformed_events_are_counted_and_skipped_and_the_watch_goes_on() -> None:
    wrong_kind = pod("t", "6")
    wrong_kind["kind"] = "Table"
    no_uid = pod("n", "7")
    del no_uid["metadata"]["uid"]
    lw = ScriptedListerWatcher(
        lists=[ListPage([], "5", "")],
        watches=[
            [
                MalformedEvent("not JSON", b"garbage"),
                event("WHATEVER", pod("w", "6")),
                event("ADDED", {"kind": "Pod"}),
                event("ADDED", wrong_kind),
                event("ADDED", no_uid),
                event("ADDED", pod("good", "8")),
            ]
        ],
    )
    with running(lw) as (reflector, store, _):
        wait_until(lambda: reflector.last_sync_resource_version == "8")
        state = reflector.state()
    assert state.malformed_events == 5
    assert store.list_keys() == ["default/good"]


def test_a_store_error_drops_the_event_but_the_resource_version_still_advances() -> None:
    class Picky(Store):
        def update(self, obj: Any) -> Any:
            if obj["metadata"]["name"] == "bad":
                raise RuntimeError("cannot take this one")
            return super().update(obj)

    lw = ScriptedListerWatcher(
        lists=[ListPage([], "5", "")],
        watches=[[event("ADDED", pod("bad", "6")), event("ADDED", pod("ok", "7"))]],
    )
    with running(lw, Picky(name="pods")) as (reflector, store, _):
        wait_until(lambda: reflector.last_sync_resource_version == "7")
        assert reflector.state().dropped_events == 1
        assert store.list_keys() == ["default/ok"]


def test_synthetic_added_events_of_a_watch_from_empty_rv_do_not_move_the_rv() -> None:
    # The list came back without an RV, so the watch starts at "": the server replays the state
    # as ADDED events in no RV order; client-go records none of their RVs (reflector.go L585-603).
    lw = ScriptedListerWatcher(
        lists=[ListPage([], "", "")],
        watches=[
            [
                event("ADDED", pod("a", "90")),
                event("ADDED", pod("b", "12")),
                event("MODIFIED", pod("b", "95")),
                event("ADDED", pod("c", "96")),
            ]
        ],
    )
    seen: list[str] = []

    class Spy(Store):
        def update(self, obj: Any) -> Any:
            seen.append(reflector_ref[0].last_sync_resource_version)
            return super().update(obj)

    reflector_ref: list[Reflector] = []
    with running(lw, Spy(name="pods"), before_start=reflector_ref.append) as (reflector, store, _):
        wait_until(lambda: len(store) == 3)
        wait_until(lambda: reflector.last_sync_resource_version == "96")
    # Before each apply: nothing recorded for the two synthetic ADDED, then MODIFIED's 95.
    assert seen == ["", "", "", "95"]
    assert lw.calls[1].resource_version == ""


def test_the_list_rv_ladder_is_zero_then_last_sync_rv_then_empty_after_expiry() -> None:
    lw = ScriptedListerWatcher(
        lists=[
            ListPage([pod("a", "10")], "10", ""),  # first list: RV "0"
            _expired(),  # relist at lastSyncRV "11" fails: expired
            ListPage([pod("a", "12")], "20", ""),  # so it lists at "" at once
        ],
        # the first watch moves the RV to 11, then the server says it is too old
        watches=[[event("MODIFIED", pod("a", "11")), _expired()]],
    )
    with running(lw) as (reflector, _, fake):
        wait_until(lambda: reflector.state().lists == 2)
        wait_until(_calls(lw, 5))
    lists = [(c.resource_version, c.limit) for c in lw.calls if c.verb == "list"]
    # "0" paginated; "11" unpaginated so the watch cache can serve it; "" keeps that page size.
    assert lists == [("0", 500), ("11", 0), ("", 0)]
    watches = [c.resource_version for c in lw.calls if c.verb == "watch"]
    assert watches[:2] == ["10", "20"]
    assert len(fake.waits) == 1  # one backoff step before the relist, none before the "" list


def test_a_too_large_resource_version_on_list_relists_at_empty_rv() -> None:
    too_large = KubeResourceVersionTooLarge("too large", status=504, reason="Timeout")
    lw = ScriptedListerWatcher(lists=[too_large, ListPage([pod("a", "3")], "30", "")])
    with running(lw, resource_version="999") as (reflector, store, _):
        wait_until(lambda: reflector.has_synced)
        assert len(store) == 1
    assert [c.resource_version for c in lw.calls if c.verb == "list"] == ["999", ""]


def test_a_paginated_first_list_keeps_paginating_on_relists() -> None:
    lw = ScriptedListerWatcher(
        lists=[
            ListPage([pod("a", "1")], "10", "next"),
            ListPage([pod("b", "2")], "10", ""),
            ListPage([pod("a", "1"), pod("b", "2")], "12", ""),
        ],
        watches=[[event("MODIFIED", pod("a", "11")), _expired()]],
    )
    with running(lw) as (reflector, _, _fake):
        wait_until(lambda: reflector.state().lists == 2)
    lists = [(c.resource_version, c.limit, c.continue_token) for c in lw.calls if c.verb == "list"]
    # The RV="0" list came back in pages: the watch cache is off, so relists stay paginated.
    assert lists == [("0", 500, None), (None, 500, "next"), ("11", 500, None)]


def test_a_store_that_starts_with_unknown_state_first_lists_at_empty_rv() -> None:
    lw = ScriptedListerWatcher(lists=[ListPage([], "40", "")])
    with running(lw, resource_version="") as (reflector, _, _fake):
        wait_until(lambda: reflector.has_synced)
    assert lw.calls[0].resource_version == ""


def test_a_watch_list_replaces_the_store_at_the_initial_events_end_bookmark() -> None:
    lw = ScriptedListerWatcher(
        watches=[
            [
                event("ADDED", pod("a", "7")),
                event("ADDED", pod("b", "3")),
                event("DELETED", pod("b", "3")),
                bookmark("9", **{"k8s.io/initial-events-end": "true"}),
                event("ADDED", pod("c", "10")),
            ]
        ],
    )
    store = Store(name="pods")
    store.update(pod("stale", "1"))
    with running(lw, store, options=ReflectorOptions(use_watch_list=True)) as (reflector, _, _f):
        wait_until(lambda: reflector.last_sync_resource_version == "10")
    assert sorted(store.list_keys()) == ["default/a", "default/c"]
    assert [c.verb for c in lw.calls] == ["watch"]
    assert lw.calls[0].send_initial_events
    assert reflector.state().lists == 1


def test_a_failed_watch_list_falls_back_to_a_normal_list() -> None:
    lw = ScriptedListerWatcher(
        lists=[ListPage([pod("a", "1")], "5", "")],
        watches=[[KubeServerError("boom", status=500)]],
    )
    with running(lw, options=ReflectorOptions(use_watch_list=True)) as (reflector, store, _f):
        wait_until(lambda: reflector.has_synced)
        wait_until(_calls(lw, 3))
        assert store.list_keys() == ["default/a"]
    assert [(c.verb, c.send_initial_events) for c in lw.calls] == [
        ("watch", True),
        ("list", False),
        ("watch", False),
    ]


def test_stop_wakes_a_reflector_blocked_in_a_watch() -> None:
    lw = ScriptedListerWatcher(lists=[ListPage([], "5", "")])
    stopped = threading.Event()
    with running(lw) as (reflector, _, _f):
        wait_until(_calls(lw, 2))
        reflector.stop()
        stopped.set()
        assert reflector.join(10)
    assert reflector.state().phase.value == "stopped"


def test_a_list_that_fails_on_a_later_page_leaves_the_store_untouched() -> None:
    # Pages stream into Store.replace, which swaps only once every page has arrived.
    lw = ScriptedListerWatcher(
        lists=[
            ListPage([pod("new-a", "9")], "10", "next"),
            KubeServerError("etcd hiccup", status=500),
            ListPage([pod("new-a", "9"), pod("new-b", "9")], "11", ""),
        ]
    )
    store = Store(name="pods")
    store.update(pod("old", "1"))
    seen: list[list[str]] = []

    class Watching(Store):
        def replace(self, items: Any, resource_version: str) -> Any:
            try:
                return store.replace(items, resource_version)
            finally:
                seen.append(sorted(store.list_keys()))

        def update(self, obj: Any) -> Any:
            return store.update(obj)

    with running(lw, Watching(name="spy"), resource_version="") as (reflector, _, fake):
        wait_until(lambda: reflector.has_synced)
    assert seen == [["default/old"], ["default/new-a", "default/new-b"]]
    assert [w.phase for w in fake.waits] == ["backing-off"]
    assert [(c.resource_version, c.continue_token) for c in lw.calls if c.verb == "list"] == [
        ("", None),
        (None, "next"),
        ("", None),
    ]
