"""retry: client-go's reflector backoff, interruptible tenacity retries and the circuit breaker."""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from typing import Any

import pytest
import tenacity

from informer_mirror.errors import KubeServerError, KubeTooManyRequests
from informer_mirror.retry import (
    BackoffPolicy,
    BackoffReset,
    BreakerPolicy,
    CircuitBreaker,
    CircuitState,
    ClientGoBackoff,
    call_with_retry,
    honour_retry_after,
    retrying,
    wait_interruptibly,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def backoff(seed: int = 1, **policy: Any) -> tuple[ClientGoBackoff, FakeClock]:
    clock = FakeClock()
    return ClientGoBackoff(BackoffPolicy(**policy), clock=clock, rng=random.Random(seed)), clock


def in_base(delay: float, base: float) -> bool:
    return base <= delay < 2 * base


# ---- ClientGoBackoff ---------------------------------------------------------------------


def test_waits_double_from_0_8_s_each_within_d_to_2d_then_stay_in_30_to_60_s() -> None:
    b, _ = backoff()
    delays = [b.next_delay() for _ in range(12)]
    for step, base in enumerate([0.8, 1.6, 3.2, 6.4, 12.8, 25.6]):
        assert in_base(delays[step], base), (step, delays[step])
    assert all(in_base(d, 30.0) for d in delays[6:]), delays[6:]
    assert b.calls == 12


def test_the_jitter_is_exactly_d_plus_u_times_d_from_the_injected_rng() -> None:
    b, _ = backoff(seed=99)
    mirror = random.Random(99)
    bases = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    assert [b.next_delay() for _ in bases] == [d + mirror.random() * d for d in bases]


def test_without_jitter_the_waits_are_the_bare_client_go_sequence() -> None:
    b, _ = backoff(jitter=0.0)
    assert [b.next_delay() for _ in range(9)] == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30, 30, 30]


def test_a_steps_limit_freezes_the_base_delay_before_the_cap() -> None:
    b, _ = backoff(jitter=0.0, steps=2)
    assert [b.next_delay() for _ in range(5)] == [0.8, 1.6, 3.2, 3.2, 3.2]


def test_v0_36_resets_two_minutes_after_the_last_reset_even_under_constant_failure() -> None:
    b, clock = backoff(jitter=0.0)
    seen = []
    for _ in range(14):  # one failure every 10 s, never two quiet minutes
        seen.append(b.next_delay())
        clock.advance(10.0)
    # 120 s after construction the first reset lands (strictly more than 120 s: the 14th call).
    assert seen[:13] == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6] + [30.0] * 7
    assert seen[13] == 0.8


def test_v0_36_does_not_reset_at_exactly_two_minutes() -> None:
    b, clock = backoff(jitter=0.0)
    b.next_delay()
    clock.advance(120.0)
    assert b.next_delay() == 1.6
    clock.advance(0.001)
    assert b.next_delay() == 0.8


def test_the_legacy_reset_needs_two_quiet_minutes_since_the_last_call() -> None:
    b, clock = backoff(jitter=0.0, reset=BackoffReset.SINCE_LAST_CALL)
    seen = []
    for _ in range(20):
        seen.append(b.next_delay())
        clock.advance(10.0)
    assert seen[-1] == 30.0, "calls every 10 s never leave two quiet minutes"
    clock.advance(120.0)
    assert b.next_delay() == 0.8


def test_reset_starts_the_sequence_again() -> None:
    b, _ = backoff(jitter=0.0)
    for _ in range(5):
        b.next_delay()
    b.reset()
    assert b.next_delay() == 0.8


def test_a_server_retry_after_longer_than_the_backoff_wins_and_a_shorter_one_does_not() -> None:
    assert honour_retry_after(0.8, 5.0) == 5.0
    assert honour_retry_after(12.0, 5.0) == 12.0
    assert honour_retry_after(3.0, None) == 3.0
    assert honour_retry_after(3.0, 0) == 3.0
    b, _ = backoff(jitter=0.0)
    assert b.next_delay(retry_after=7.0) == 7.0
    assert b.next_delay(retry_after=1.0) == 1.6, "Retry-After does not stop the sequence"


def failed_state(error: BaseException) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(retry_object=tenacity.Retrying(), fn=None, args=(), kwargs={})
    try:
        raise error
    except BaseException:
        state.set_exception(sys.exc_info())  # type: ignore[arg-type]
    return state


def test_as_a_tenacity_wait_it_honours_the_retry_after_of_the_failed_attempt() -> None:
    b, _ = backoff(jitter=0.0)
    assert b(failed_state(KubeTooManyRequests("slow down", retry_after=45.0))) == 45.0
    assert b(failed_state(KubeServerError("boom", status=500))) == 1.6
    assert isinstance(b, tenacity.wait.wait_base)


def test_backoff_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="initial"):
        BackoffPolicy(initial=0)
    with pytest.raises(ValueError, match="initial"):
        BackoffPolicy(initial=5, cap=1)
    with pytest.raises(ValueError, match=">= 0"):
        BackoffPolicy(factor=-1)


# ---- interruptible waits and tenacity ----------------------------------------------------


def test_wait_interruptibly_reports_a_set_stop_event_at_once() -> None:
    stop = threading.Event()
    assert wait_interruptibly(stop, 0) is False
    assert wait_interruptibly(stop, 0.001) is False
    stop.set()
    assert wait_interruptibly(stop, 3600) is True
    assert wait_interruptibly(stop, 0) is True


def test_setting_the_stop_event_interrupts_a_long_tenacity_backoff_and_no_attempt_follows() -> None:
    stop = threading.Event()
    attempted = threading.Event()
    attempts: list[int] = []
    hour = ClientGoBackoff(BackoffPolicy(initial=3600.0, cap=3600.0, jitter=0.0))

    def always_fails() -> None:
        attempts.append(1)
        attempted.set()
        raise KubeServerError("down", status=503)

    results: list[object] = []
    thread = threading.Thread(
        target=lambda: results.append(call_with_retry(always_fails, stop, name="pods", wait=hour)),
        name="retrier",
    )
    thread.start()
    assert attempted.wait(timeout=10)
    stop.set()
    thread.join(timeout=10)  # the backoff is an hour: only the stop event can end it this soon
    assert not thread.is_alive()
    assert results == [None]
    assert attempts == [1]


def test_call_with_retry_returns_the_result_after_transient_failures() -> None:
    outcomes: list[Any] = [KubeServerError("a", status=500), KubeServerError("b", status=502), 42]

    def flaky() -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return int(outcome)

    stop = threading.Event()
    assert call_with_retry(flaky, stop, name="pods", wait=tenacity.wait_none()) == 42


def test_call_with_retry_re_raises_the_last_error_after_max_attempts() -> None:
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise KubeServerError(f"attempt {len(calls)}", status=500)

    with pytest.raises(KubeServerError, match="attempt 3"):
        call_with_retry(
            down, threading.Event(), name="pods", wait=tenacity.wait_none(), max_attempts=3
        )
    assert len(calls) == 3


def test_errors_outside_retry_on_propagate_at_once() -> None:
    calls: list[int] = []

    def bug() -> None:
        calls.append(1)
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        call_with_retry(bug, threading.Event(), name="pods", wait=tenacity.wait_none())
    assert calls == [1]


def test_call_with_retry_makes_no_attempt_once_stopped() -> None:
    stop = threading.Event()
    stop.set()
    calls: list[int] = []
    assert call_with_retry(lambda: calls.append(1), stop, name="pods") is None
    assert calls == []


def test_retrying_re_raises_when_stop_is_set_during_a_failed_attempt() -> None:
    stop = threading.Event()
    calls: list[int] = []

    def fails_then_stop() -> None:
        calls.append(1)
        stop.set()
        raise KubeServerError("down", status=500)

    with pytest.raises(KubeServerError):
        retrying(stop, name="pods", wait=tenacity.wait_none())(fails_then_stop)
    assert calls == [1]


def test_each_retry_logs_a_warning_naming_the_resource(caplog: pytest.LogCaptureFixture) -> None:
    outcomes: list[Any] = [KubeServerError("boom", status=500), "ok"]

    def flaky() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    with caplog.at_level(logging.WARNING, logger="informer_mirror.retry"):
        call_with_retry(flaky, threading.Event(), name="deployments", wait=tenacity.wait_none())
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "deployments" in caplog.records[0].getMessage()
    assert "KubeServerError" in caplog.records[0].getMessage()


# ---- CircuitBreaker ----------------------------------------------------------------------


def breaker(**policy: Any) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    defaults: dict[str, Any] = {"max_failures": 3, "base_delay": 10.0, "max_delay": 60.0}
    return CircuitBreaker(BreakerPolicy(**(defaults | policy)), name="pods", clock=clock), clock


def fail(b: CircuitBreaker, times: int = 1) -> None:
    for i in range(times):
        assert b.allow()
        b.record_failure(KubeServerError(f"failure {i}", status=500))


def test_the_circuit_opens_after_max_failures_consecutive_failures() -> None:
    b, _ = breaker()
    fail(b, 2)
    assert b.state is CircuitState.CLOSED
    fail(b)
    assert b.state is CircuitState.OPEN
    assert not b.allow()


def test_a_success_while_closed_resets_the_failure_count() -> None:
    b, _ = breaker()
    fail(b, 2)
    b.record_success()
    fail(b, 2)
    assert b.state is CircuitState.CLOSED
    assert b.snapshot().consecutive_failures == 2


def test_an_open_circuit_refuses_until_the_cool_down_ends_then_allows_exactly_one_trial() -> None:
    b, clock = breaker()
    fail(b, 3)
    assert b.seconds_until_attempt() == 10.0
    clock.advance(9.999)
    assert not b.allow()
    clock.advance(0.001)
    assert b.seconds_until_attempt() == 0.0
    assert b.allow()
    snap = b.snapshot()
    assert snap.state is CircuitState.HALF_OPEN
    assert snap.next_attempt_at is None, "the trial is under way: no attempt is scheduled"
    assert not b.allow(), "half-open allows one trial, not two"
    assert not b.allow()


def test_a_successful_trial_closes_the_circuit_and_forgets_its_history() -> None:
    b, clock = breaker()
    fail(b, 3)
    clock.advance(10.0)
    assert b.allow()
    b.record_success()
    snap = b.snapshot()
    assert snap.state is CircuitState.CLOSED
    assert (snap.consecutive_failures, snap.consecutive_opens) == (0, 0)
    assert (snap.last_error, snap.opened_at, snap.next_attempt_at) == (None, None, None)
    fail(b, 3)
    assert b.seconds_until_attempt() == 10.0, "the cool-down starts again from base_delay"


def test_failed_trials_reopen_with_doubling_cool_downs_up_to_max_delay_and_never_give_up() -> None:
    b, clock = breaker()
    fail(b, 3)
    cooldowns = []
    for _ in range(6):
        cooldowns.append(b.seconds_until_attempt())
        clock.advance(cooldowns[-1])
        fail(b)  # the single trial fails
        assert b.state is CircuitState.OPEN
    assert cooldowns == [10.0, 20.0, 40.0, 60.0, 60.0, 60.0]
    clock.advance(60.0)
    assert b.allow(), "after any number of failures a trial is still allowed"


def test_the_snapshot_reports_state_failures_last_error_and_times() -> None:
    b, clock = breaker()
    fail(b, 2)
    b.record_failure("read timed out")
    snap = b.snapshot()
    assert snap.state is CircuitState.OPEN
    assert snap.consecutive_failures == 3
    assert snap.consecutive_opens == 1
    assert snap.last_error == "read timed out"
    assert snap.opened_at == clock.now
    assert snap.next_attempt_at == clock.now + 10.0
    with pytest.raises(AttributeError):
        snap.state = CircuitState.CLOSED  # type: ignore[misc]
    b.record_failure(KubeServerError("still down", status=503))
    assert b.snapshot().last_error == "KubeServerError: still down"


def test_only_one_of_many_threads_gets_the_half_open_trial() -> None:
    b, clock = breaker()
    fail(b, 3)
    clock.advance(10.0)
    barrier = threading.Barrier(8)
    granted: list[bool] = []
    lock = threading.Lock()

    def contend() -> None:
        barrier.wait(timeout=10)
        allowed = b.allow()
        with lock:
            granted.append(allowed)

    threads = [threading.Thread(target=contend, name=f"contender-{i}") for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(granted) == [False] * 7 + [True]


def test_breaker_snapshots_stay_consistent_while_another_thread_drives_it() -> None:
    b, clock = breaker(max_failures=2)
    done = threading.Event()
    errors: list[BaseException] = []
    states: set[CircuitState] = set()

    def drive() -> None:
        try:
            for i in range(3000):
                clock.advance(7.0)  # cool-downs end now and then
                if b.allow():
                    if i % 5 == 0:
                        b.record_success()
                    else:
                        b.record_failure(RuntimeError("x"))
        except BaseException as e:
            errors.append(e)
        finally:
            done.set()

    thread = threading.Thread(target=drive, name="driver")
    thread.start()
    deadline = time.monotonic() + 10
    while not done.is_set() and time.monotonic() < deadline:
        snap = b.snapshot()
        states.add(snap.state)
        assert (snap.state is CircuitState.OPEN) == (snap.next_attempt_at is not None)
        assert (snap.state is CircuitState.CLOSED) == (snap.opened_at is None)
    thread.join(timeout=10)
    assert errors == []
    assert not thread.is_alive()


def test_breaker_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_failures"):
        BreakerPolicy(max_failures=0)
    with pytest.raises(ValueError, match="base_delay"):
        BreakerPolicy(base_delay=10, max_delay=5)
