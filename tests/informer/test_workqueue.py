"""The WorkQueue: client-go util/workqueue semantics, batches, shutdown, delays and metrics."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from informer_mirror.informer.workqueue import ItemExponentialRateLimiter, WorkQueue
from tests.helpers import wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingMetrics:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_add(self, count: int) -> None:
        self.events.append(("add", count))

    def on_get(self, wait_seconds: Sequence[float]) -> None:
        self.events.append(("get", list(wait_seconds)))

    def on_done(self, work_seconds: Sequence[float]) -> None:
        self.events.append(("done", list(work_seconds)))

    def on_retry(self) -> None:
        self.events.append(("retry", None))

    def depth(self, depth: int) -> None:
        self.events.append(("depth", depth))

    def of(self, kind: str) -> list[Any]:
        return [value for k, value in self.events if k == kind]


def start(target: Callable[[], object], name: str) -> tuple[threading.Thread, list[Any]]:
    """Run ``target`` on a thread; its return value (or exception) lands in the list."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(target())
        except BaseException as e:
            out.append(e)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread, out


def joined(thread: threading.Thread) -> bool:
    thread.join(timeout=10)
    return not thread.is_alive()


def make_queue(**kwargs: Any) -> WorkQueue[Hashable]:
    return WorkQueue(name="test", **kwargs)


# ---- dedup and ordering ------------------------------------------------------------------


def test_adding_a_key_twice_before_it_is_taken_queues_it_once() -> None:
    q = make_queue()
    q.add("a")
    q.add("a")
    assert len(q) == 1
    assert q.get(timeout=0) == "a"
    assert q.get(timeout=0) is None


def test_keys_come_out_in_the_order_they_were_first_added() -> None:
    q = make_queue()
    for key in ("c", "a", "b", "a", "c"):
        q.add(key)
    assert [q.get(timeout=0) for _ in range(3)] == ["c", "a", "b"]


def test_tuple_keys_of_resource_and_object_key_work() -> None:
    q = make_queue()
    q.add(("pods", "ns/a"))
    q.add(("pods", "ns/a"))
    q.add(("services", "ns/a"))
    assert q.get_batch(10, timeout=0) == [("pods", "ns/a"), ("services", "ns/a")]


def test_a_key_re_added_while_processing_is_held_back_until_done_then_queued_again() -> None:
    q = make_queue()
    q.add("a")
    assert q.get(timeout=0) == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0, "a key being processed must not be handed to another worker"
    assert q.get(timeout=0) is None
    q.done("a")
    assert len(q) == 1
    assert q.get(timeout=0) == "a"
    q.done("a")
    assert q.get(timeout=0) is None


def test_a_key_done_without_a_re_add_is_gone() -> None:
    q = make_queue()
    q.add("a")
    assert q.get(timeout=0) == "a"
    assert q.processing_count == 1
    q.done("a")
    assert q.processing_count == 0
    assert len(q) == 0


def test_done_for_a_key_that_is_not_being_processed_is_ignored() -> None:
    q = make_queue()
    q.add("a")
    q.done("a")
    q.done("zzz")
    assert q.get(timeout=0) == "a"


# ---- blocking get and batches ------------------------------------------------------------


def test_get_blocks_until_another_thread_adds_a_key() -> None:
    q = make_queue()
    thread, out = start(q.get, "getter")
    q.add("a")
    assert joined(thread)
    assert out == ["a"]


def test_a_key_that_done_queues_again_wakes_a_getter_already_waiting() -> None:
    q = make_queue()
    q.add("a")
    assert q.get(timeout=0) == "a"
    q.add("a")  # dirty while processing: held back until done
    thread, out = start(q.get, "getter")
    try:
        # the getter must be asleep in the queue's condition before done() queues the key
        wait_until(lambda: len(q._cond._waiters) == 1, timeout=10)  # type: ignore[attr-defined]
        q.done("a")
        assert joined(thread)
        assert out == ["a"]
    finally:
        q.shut_down()


def test_get_with_a_timeout_returns_none_when_nothing_arrives() -> None:
    q = make_queue()
    assert q.get(timeout=0.01) is None


def test_get_batch_returns_at_most_max_items_distinct_keys_in_order() -> None:
    q = make_queue()
    for i in range(7):
        q.add(i)
    assert q.get_batch(3, timeout=5) == [0, 1, 2]
    assert q.get_batch(10, timeout=0) == [3, 4, 5, 6]
    assert q.get_batch(10, timeout=0) == []
    assert q.processing_count == 7


def test_get_batch_does_not_hand_out_a_key_that_is_still_processing() -> None:
    q = make_queue()
    q.add("a")
    q.add("b")
    assert q.get_batch(1, timeout=0) == ["a"]
    q.add("a")
    assert q.get_batch(10, timeout=0) == ["b"]
    q.done("a")
    assert q.get_batch(10, timeout=0) == ["a"]


def test_get_batch_waits_for_the_first_key_from_another_thread() -> None:
    q = make_queue()
    thread, out = start(lambda: q.get_batch(2, timeout=30), "batcher")
    q.add("a")
    q.add("b")
    assert joined(thread)
    assert out == [["a", "b"]]


def test_a_part_filled_batch_is_handed_over_once_the_queue_goes_quiet() -> None:
    q = make_queue()
    q.add("a")
    # the deadline is an hour away: only the idle rule can end this wait within joined()'s 10 s
    thread, out = start(lambda: q.get_batch(500, timeout=3600, idle=0.05), "batcher")
    q.add("b")
    assert joined(thread)
    assert out == [["a", "b"]]


def test_a_part_filled_batch_fills_up_from_later_adds_and_returns_when_full() -> None:
    q = make_queue()
    q.add(0)
    thread, out = start(lambda: q.get_batch(50, timeout=3600), "batcher")
    for i in range(1, 60):
        q.add(i)
    assert joined(thread)
    assert out == [list(range(50))]
    assert q.get_batch(50, timeout=0) == list(range(50, 60))


def test_a_batch_that_reaches_fill_is_handed_over_with_all_that_is_queued_up_to_the_most() -> None:
    q = make_queue()
    for i in range(7):
        q.add(i)
    # enough is waiting: all of it up to the most (7 of 10), at once, not at the deadline an
    # hour away (joined() allows 10 s)
    thread, out = start(lambda: q.get_batch(10, timeout=3600, fill=3), "batcher")
    assert joined(thread)
    assert out == [list(range(7))]
    for i in range(7, 30):
        q.add(i)
    assert q.get_batch(10, timeout=3600, fill=3) == list(range(7, 17))


def test_a_part_filled_batch_is_handed_over_once_it_reaches_fill_not_the_most() -> None:
    q = make_queue()
    q.add(0)
    # the deadline is an hour away and there is no idle rule: only reaching fill (3 keys, not
    # the most of 50) can end this wait within joined()'s 10 s
    thread, out = start(lambda: q.get_batch(50, timeout=3600, fill=3), "batcher")
    wait_until(lambda: q.processing_count == 1, 10.0, interval=0.001)
    q.add_many([1, 2])
    assert joined(thread)
    assert out == [[0, 1, 2]]


def test_fill_above_the_most_means_the_most_and_below_one_is_refused() -> None:
    q = make_queue()
    for i in range(5):
        q.add(i)
    # a fill beyond the most must not wait for the deadline an hour away (joined() allows 10 s)
    thread, out = start(lambda: q.get_batch(5, timeout=3600, fill=50), "batcher")
    assert joined(thread)
    assert out == [list(range(5))]
    with pytest.raises(ValueError, match="fill"):
        q.get_batch(5, timeout=0, fill=0)


def test_shutting_down_hands_over_a_part_filled_batch() -> None:
    q = make_queue()
    q.add("a")
    thread, out = start(lambda: q.get_batch(500, timeout=3600), "batcher")
    wait_until(lambda: q.processing_count == 1, 10.0, interval=0.001)
    q.shut_down()
    assert joined(thread)
    assert out == [["a"]]


def test_get_batch_rejects_a_non_positive_size() -> None:
    with pytest.raises(ValueError, match="max_items"):
        make_queue().get_batch(0, timeout=0)


def test_no_key_is_processed_by_two_workers_at_once_and_no_re_add_is_lost() -> None:
    q = make_queue()
    keys = [f"k{i}" for i in range(10)]
    latest = dict.fromkeys(keys, 0)  # what the producer last wrote, per key
    seen = dict.fromkeys(keys, 0)  # the newest value a worker processed, per key
    in_flight: set[str] = set()
    lock = threading.Lock()
    violations: list[str] = []

    def worker(batch: bool) -> None:
        while True:
            got = q.get_batch(3, timeout=1) if batch else [q.get()]
            if not got or got == [None]:
                if q.shutting_down:
                    return
                continue
            for key in got:
                with lock:
                    if key in in_flight:
                        violations.append(key)
                    in_flight.add(key)
                    seen[key] = latest[key]
            for key in got:
                with lock:
                    in_flight.discard(key)
                q.done(key)

    workers = [
        threading.Thread(target=worker, args=(i % 2 == 0,), name=f"worker-{i}") for i in range(4)
    ]
    for w in workers:
        w.start()
    for step in range(1, 3001):
        key = keys[step % len(keys)]
        with lock:
            latest[key] = step
        q.add(key)
    assert q.shut_down_with_drain(timeout=30)
    for w in workers:
        w.join(timeout=30)
    assert not any(w.is_alive() for w in workers)
    assert violations == []
    assert seen == latest


# ---- shutdown ----------------------------------------------------------------------------


def test_after_shut_down_adds_are_ignored_and_getters_drain_then_get_none() -> None:
    q = make_queue()
    q.add("a")
    q.add("b")
    q.shut_down()
    q.add("c")
    assert q.shutting_down
    assert q.get() == "a"
    assert q.get_batch(10, timeout=30) == ["b"]
    assert q.get() is None
    assert q.get_batch(10, timeout=30) == []


def test_shut_down_wakes_getters_blocked_without_a_timeout() -> None:
    q = make_queue()
    getter, got = start(q.get, "getter")
    batcher, batch = start(lambda: q.get_batch(5, timeout=3600), "batcher")
    wait_until(lambda: getter.is_alive() and batcher.is_alive(), 10.0, interval=0.001)
    q.shut_down()
    assert joined(getter)
    assert joined(batcher)
    assert got == [None]
    assert batch == [[]]


def test_a_key_re_added_before_shut_down_is_still_handed_out_after_done() -> None:
    q = make_queue()
    q.add("a")
    assert q.get(timeout=0) == "a"
    q.add("a")
    q.shut_down()
    q.done("a")
    assert q.get(timeout=0) == "a"


def test_shut_down_with_drain_waits_for_queued_and_in_flight_keys() -> None:
    q = make_queue()
    q.add("a")
    q.add("b")
    assert q.get(timeout=0) == "a"
    assert not q.shut_down_with_drain(timeout=0), "'a' is in flight and 'b' queued"
    drainer, drained = start(lambda: q.shut_down_with_drain(timeout=30), "drainer")
    q.done("a")
    assert q.get(timeout=0) == "b"
    q.done("b")
    assert joined(drainer)
    assert drained == [True]


def test_shut_down_with_drain_also_waits_for_keys_no_worker_has_taken_yet() -> None:
    q = make_queue()
    q.add("queued")
    assert not q.shut_down_with_drain(timeout=0)
    assert q.get(timeout=0) == "queued"
    q.done("queued")
    assert q.shut_down_with_drain(timeout=0)


def test_shut_down_with_drain_returns_at_once_when_idle() -> None:
    q = make_queue()
    assert q.shut_down_with_drain(timeout=0)
    assert make_queue().shut_down_with_drain()


# ---- delays and rate limiting ------------------------------------------------------------


def test_add_after_makes_a_key_ready_only_once_the_injected_clock_passes_its_delay() -> None:
    clock = FakeClock()
    q = make_queue(clock=clock)
    q.add_after("a", 1.0)
    assert q.waiting_count == 1
    assert len(q) == 0
    clock.advance(0.999)
    assert q.get(timeout=0) is None
    clock.advance(0.001)
    assert q.get(timeout=0) == "a"
    assert q.waiting_count == 0


def test_add_after_with_no_delay_adds_at_once() -> None:
    q = make_queue(clock=FakeClock())
    q.add_after("a", 0)
    assert q.get(timeout=0) == "a"


def test_add_after_keeps_the_earliest_ready_time_of_a_key() -> None:
    clock = FakeClock()
    q = make_queue(clock=clock)
    q.add_after("a", 10.0)
    q.add_after("a", 2.0)
    q.add_after("a", 5.0)
    assert q.waiting_count == 1
    clock.advance(2.0)
    assert q.get(timeout=0) == "a"
    q.done("a")
    clock.advance(10.0)
    assert q.get(timeout=0) is None, "the superseded later entries must not fire again"


def test_delayed_keys_come_out_in_ready_time_order() -> None:
    clock = FakeClock()
    q = make_queue(clock=clock)
    q.add_after("late", 3.0)
    q.add_after("early", 1.0)
    q.add_after("middle", 2.0)
    clock.advance(5.0)
    assert q.get_batch(10, timeout=0) == ["early", "middle", "late"]


def test_a_blocked_getter_wakes_when_a_delayed_key_becomes_due() -> None:
    q = make_queue()  # the real clock: the getter must sleep until the key is due
    q.add_after("a", 0.02)
    assert q.get(timeout=30) == "a"


def test_rate_limited_re_adds_back_off_from_5_ms_doubling_to_a_1000_s_cap() -> None:
    limiter: ItemExponentialRateLimiter[str] = ItemExponentialRateLimiter()
    delays = [limiter.when("a") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[17] == 0.005 * 2**17
    assert delays[18:] == [1000.0, 1000.0]
    assert limiter.num_requeues("a") == 20
    assert limiter.when("b") == 0.005
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 0.005
    for _ in range(200):
        limiter.when("c")
    assert limiter.when("c") == 1000.0


def test_rate_limited_re_add_timing_follows_the_injected_clock_and_forget_resets_it() -> None:
    clock = FakeClock()
    q = make_queue(clock=clock)
    q.add_rate_limited("a")
    clock.advance(0.004)
    assert q.get(timeout=0) is None
    clock.advance(0.001)
    assert q.get(timeout=0) == "a"
    q.done("a")
    q.add_rate_limited("a")
    assert q.num_requeues("a") == 2
    clock.advance(0.009)
    assert q.get(timeout=0) is None
    clock.advance(0.001)
    assert q.get(timeout=0) == "a"
    q.done("a")
    q.forget("a")
    assert q.num_requeues("a") == 0
    q.add_rate_limited("a")
    clock.advance(0.005)
    assert q.get(timeout=0) == "a"


def test_shut_down_drops_delayed_keys_and_ignores_new_ones() -> None:
    clock = FakeClock()
    q = make_queue(clock=clock)
    q.add_after("a", 1.0)
    q.shut_down()
    q.add_after("b", 1.0)
    q.add_rate_limited("c")
    clock.advance(10.0)
    assert q.waiting_count == 0
    assert q.get(timeout=0) is None
    assert q.num_requeues("c") == 0


def test_rate_limiter_rejects_nonsense_delays() -> None:
    with pytest.raises(ValueError, match="base_delay"):
        ItemExponentialRateLimiter(base_delay=0)
    with pytest.raises(ValueError, match="base_delay"):
        ItemExponentialRateLimiter(base_delay=2, max_delay=1)


# ---- metrics -----------------------------------------------------------------------------


def test_metrics_hooks_see_adds_queue_waits_work_times_retries_and_depth() -> None:
    clock = FakeClock()
    metrics = RecordingMetrics()
    q = make_queue(clock=clock, metrics=metrics)
    q.add("a")
    q.add("a")  # coalesced: not an add
    q.add("b")
    clock.advance(2.0)
    assert q.get(timeout=0) == "a"
    clock.advance(3.0)
    q.done("a")
    q.add_rate_limited("b")  # still queued: the retry is counted, the add coalesces
    assert metrics.of("add") == [1, 1]
    assert metrics.of("get") == [[2.0]]
    assert metrics.of("done") == [[3.0]]
    assert metrics.of("retry") == [None]
    assert metrics.of("depth") == [1, 2, 1]


def test_batched_calls_report_every_key_to_the_metrics_in_one_call_and_the_depth_once() -> None:
    clock = FakeClock()
    metrics = RecordingMetrics()
    q = make_queue(clock=clock, metrics=metrics)
    q.add_many(["a", "b", "a", "c"])  # "a" twice: coalesced
    assert metrics.of("add") == [3]
    assert metrics.of("depth") == [3]
    clock.advance(2.0)
    assert q.get_batch(2, timeout=0) == ["a", "b"]
    assert metrics.of("get") == [[2.0, 2.0]]
    assert metrics.of("depth") == [3, 1]
    q.add_many(["a", "c"])  # "a" dirty while processing: an add, queued again by done_many
    assert metrics.of("add") == [3, 1]
    clock.advance(1.0)
    q.done_many(["a", "b", "zz"])  # "zz" is not being processed: ignored
    assert metrics.of("done") == [[1.0, 1.0]]
    assert metrics.of("depth") == [3, 1, 2]
    q.done_many(["zz"])  # nothing done: no call
    assert metrics.of("done") == [[1.0, 1.0]]
    assert q.get_batch(5, timeout=0) == ["c", "a"]


def test_delayed_keys_count_as_adds_when_they_become_ready() -> None:
    clock = FakeClock()
    metrics = RecordingMetrics()
    q = make_queue(clock=clock, metrics=metrics)
    q.add_after("a", 1.0)
    q.add_after("b", 2.0)
    q.add_after("c", 0)  # no delay: an add at once
    assert metrics.of("add") == [1]
    clock.advance(5.0)
    assert q.get_batch(5, timeout=0) == ["c", "a", "b"]
    assert metrics.of("add") == [1, 2]  # both due keys, in one call


# ---- model-based -------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "d"])
DELAYS = st.sampled_from([0.0, 0.005, 0.01, 0.5, 1.0, 2.0])


class QueueAgainstAModel(RuleBasedStateMachine):
    """Random adds, delayed and rate-limited adds, gets, dones, clock steps and a shutdown."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.q: WorkQueue[str] = WorkQueue(name="model", clock=self.clock)
        self.queue: list[str] = []
        self.dirty: set[str] = set()
        self.processing: set[str] = set()
        self.waiting: dict[str, tuple[float, int]] = {}
        self.sequence = 0
        self.failures: dict[str, int] = {}
        self.shut = False

    def _add(self, key: str) -> None:
        if self.shut or key in self.dirty:
            return
        self.dirty.add(key)
        if key not in self.processing:
            self.queue.append(key)

    def _add_after(self, key: str, delay: float) -> None:
        if self.shut:
            return
        if delay <= 0:
            self._add(key)
            return
        ready = self.clock.now + delay
        if key in self.waiting and self.waiting[key][0] <= ready:
            return
        self.sequence += 1
        self.waiting[key] = (ready, self.sequence)

    def _promote(self) -> None:
        due = sorted(
            (entry, key) for key, entry in self.waiting.items() if entry[0] <= self.clock.now
        )
        for _, key in due:
            del self.waiting[key]
            self._add(key)

    def _take(self) -> str:
        key = self.queue.pop(0)
        self.dirty.discard(key)
        self.processing.add(key)
        return key

    @rule(key=KEYS)
    def add(self, key: str) -> None:
        self.q.add(key)
        self._add(key)

    @rule(keys=st.lists(KEYS, max_size=6))
    def add_many(self, keys: list[str]) -> None:
        self.q.add_many(keys)
        for key in keys:
            self._add(key)

    @rule(key=KEYS, delay=DELAYS)
    def add_after(self, key: str, delay: float) -> None:
        self.q.add_after(key, delay)
        self._add_after(key, delay)

    @rule(key=KEYS)
    def add_rate_limited(self, key: str) -> None:
        self.q.add_rate_limited(key)
        if not self.shut:
            n = self.failures.get(key, 0)
            self.failures[key] = n + 1
            self._add_after(key, min(0.005 * 2.0**n, 1000.0))

    @rule(key=KEYS)
    def forget(self, key: str) -> None:
        self.q.forget(key)
        self.failures.pop(key, None)

    @rule()
    def get(self) -> None:
        self._promote()
        expected = self._take() if self.queue else None
        assert self.q.get(timeout=0) == expected

    @rule(n=st.integers(1, 3))
    def get_batch(self, n: int) -> None:
        self._promote()
        expected = [self._take() for _ in range(min(n, len(self.queue)))]
        assert self.q.get_batch(n, timeout=0) == expected

    @precondition(lambda self: bool(self.processing))
    @rule(data=st.data())
    def done(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.processing)))
        self.q.done(key)
        self.processing.discard(key)
        if key in self.dirty:
            self.queue.append(key)

    @rule(keys=st.lists(KEYS, max_size=4, unique=True))
    def done_many(self, keys: list[str]) -> None:
        # keys not being processed are ignored, as done() ignores them
        self.q.done_many(keys)
        for key in keys:
            if key in self.processing:
                self.processing.discard(key)
                if key in self.dirty:
                    self.queue.append(key)

    @rule(keys=st.lists(KEYS, max_size=4))
    def forget_many(self, keys: list[str]) -> None:
        self.q.forget_many(keys)
        for key in keys:
            self.failures.pop(key, None)

    @rule(seconds=DELAYS)
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def length(self) -> None:
        self._promote()
        assert len(self.q) == len(self.queue)

    @precondition(lambda self: not self.shut)
    @rule()
    def shut_down(self) -> None:
        self.q.shut_down()
        self.shut = True
        self.waiting.clear()

    @invariant()
    def bookkeeping_matches(self) -> None:
        assert self.q.processing_count == len(self.processing)
        assert self.q.waiting_count == len(self.waiting)
        for key in self.failures.keys() | {"a", "b", "c", "d"}:
            assert self.q.num_requeues(key) == self.failures.get(key, 0)


TestQueueAgainstAModel = QueueAgainstAModel.TestCase
TestQueueAgainstAModel.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
