"""Backoff, interruptible waits and the circuit breaker: every retry in informer-mirror starts here.

Place in the data flow: the I/O edges. Each Reflector thread owns one :class:`ClientGoBackoff`
(shared by its list and watch, as client-go does since kubernetes PR #118132) and one
:class:`CircuitBreaker`; the BatchWriter threads own theirs for the backend. Nothing here starts a
thread: the calling thread sleeps, always on its stop ``threading.Event`` so shutdown interrupts a
backoff at once. Backoff and breaker are thread-safe so /status and /metrics can read them from
other threads.

Retries are built with tenacity in this one module (ARCHITECTURE.md convention 9): use
:func:`retrying` or :func:`call_with_retry` rather than building ``tenacity.Retrying`` elsewhere.

Numbers (informer-semantics.md section 1, client-go v0.36 ``reflector.go`` L55-67 and apimachinery
``wait/backoff.go``): initial 0.8 s, factor 2, jitter 1.0 (each wait is ``d + U[0,1)*d``), cap 30 s,
so the waits run ``[0.8,1.6) [1.6,3.2) ... [25.6,51.2)`` and then ``[30,60)`` forever.
"""

from __future__ import annotations

import enum
import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity
from tenacity.wait import wait_base

from informer_mirror.errors import InformerMirrorError

logger = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]


class BackoffReset(enum.Enum):
    """When the backoff forgets its growth and starts again at ``initial``."""

    SINCE_LAST_RESET = "since_last_reset"
    """client-go v0.36 (``Backoff.DelayWithReset``, backoff.go L279-304): reset on the first call
    made more than ``reset_after`` after the previous reset (or construction). During a long outage
    this drops the wait back to 0.8 s every ~2 minutes. The default: Kubernetes 1.36 does this."""
    SINCE_LAST_CALL = "since_last_call"
    """client-go v0.35 and earlier (``exponentialBackoffManagerImpl``, backoff.go L390-397): reset
    when more than ``reset_after`` passed since the previous call, i.e. after 2 quiet minutes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffPolicy:
    """Parameters of a client-go ``wait.Backoff`` with a periodic reset."""

    initial: float = 0.8
    """First base delay, seconds."""
    factor: float = 2.0
    """Multiplier applied to the base delay after each step (no growth when 0)."""
    jitter: float = 1.0
    """Each wait is ``d + U[0,1) * jitter * d``; 0 disables jitter."""
    cap: float = 30.0
    """Largest base delay, seconds; with jitter 1.0 the longest wait is just under ``2 * cap``."""
    reset_after: float = 120.0
    """Seconds after which the backoff starts again from ``initial`` (see :class:`BackoffReset`)."""
    reset: BackoffReset = BackoffReset.SINCE_LAST_RESET
    """Which client-go generation's reset rule applies."""
    steps: int | None = None
    """Growth steps before the base delay freezes; ``None`` means ``ceil(cap / initial)`` like the
    reflector (reflector.go L317-326), which the cap always reaches first."""

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.cap < self.initial:
            raise ValueError("backoff: need 0 < initial <= cap")
        if self.factor < 0 or self.jitter < 0 or self.reset_after < 0:
            raise ValueError("backoff: factor, jitter and reset_after must be >= 0")


def honour_retry_after(delay: float, retry_after: float | None) -> float:
    """The wait to use when the server sent ``Retry-After``: never shorter than either."""
    if retry_after is None or retry_after <= 0:
        return delay
    return max(delay, retry_after)


class ClientGoBackoff(wait_base):
    """client-go's reflector backoff, usable directly (:meth:`next_delay`) or as a tenacity wait.

    As a tenacity ``wait`` it honours ``retry_after`` on the failed attempt's exception (see
    ``errors.KubeTooManyRequests``). One instance is shared by a reflector's list and watch paths;
    calls from several threads each advance the one sequence, as with client-go's ``Concurrent()``.
    """

    def __init__(
        self,
        policy: BackoffPolicy | None = None,
        *,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy or BackoffPolicy()
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._lock = threading.Lock()
        self._duration = self.policy.initial
        self._steps = self._initial_steps()
        self._last_mark = clock()
        self._calls = 0

    def _initial_steps(self) -> int:
        if self.policy.steps is not None:
            return self.policy.steps
        return math.ceil(self.policy.cap / self.policy.initial)

    def reset(self) -> None:
        """Start again from ``initial`` (e.g. after a watch stayed healthy)."""
        with self._lock:
            self._duration = self.policy.initial
            self._steps = self._initial_steps()
            self._last_mark = self._clock()

    @property
    def calls(self) -> int:
        """How many delays were handed out: lets tests and /status count backoff steps."""
        with self._lock:
            return self._calls

    def next_delay(self, retry_after: float | None = None) -> float:
        """Advance the sequence and return the next wait in seconds (at least ``retry_after``)."""
        with self._lock:
            now = self._clock()
            if now - self._last_mark > self.policy.reset_after:
                self._duration = self.policy.initial
                self._steps = self._initial_steps()
                self._last_mark = now
            elif self.policy.reset is BackoffReset.SINCE_LAST_CALL:
                self._last_mark = now
            self._calls += 1
            delay = self._step()
        return honour_retry_after(delay, retry_after)

    def _step(self) -> float:
        # apimachinery wait.delay(): jitter applies to this step only; growth is capped and a
        # capped (or exhausted) sequence keeps returning the jittered cap.
        p = self.policy
        duration = self._duration
        if self._steps >= 1:
            self._steps -= 1
            if p.factor != 0:
                grown = duration * p.factor
                if grown > p.cap:
                    grown = p.cap
                    self._steps = 0
                self._duration = grown
        if p.jitter > 0:
            return duration + self._rng.random() * p.jitter * duration
        return duration

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        retry_after: float | None = None
        outcome = retry_state.outcome
        if outcome is not None and outcome.failed:
            value = getattr(outcome.exception(), "retry_after", None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                retry_after = float(value)
        return self.next_delay(retry_after)


def wait_interruptibly(stop: threading.Event, seconds: float) -> bool:
    """Wait ``seconds`` unless ``stop`` is set first; True means "stop was requested"."""
    if seconds <= 0:
        return stop.is_set()
    return stop.wait(seconds)


def _log_before_sleep(name: str) -> Callable[[tenacity.RetryCallState], None]:
    def log(retry_state: tenacity.RetryCallState) -> None:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        logger.warning(
            "%s: attempt %d failed (%s: %s); retrying in %.2f s",
            name,
            retry_state.attempt_number,
            type(error).__name__,
            error,
            retry_state.upcoming_sleep,
        )

    return log


def retrying(
    stop: threading.Event,
    *,
    name: str,
    wait: wait_base | None = None,
    retry_on: tuple[type[BaseException], ...] = (InformerMirrorError,),
    max_attempts: int | None = None,
) -> tenacity.Retrying:
    """A ``tenacity.Retrying`` that sleeps on ``stop`` and stops retrying once ``stop`` is set.

    ``name`` (the resource or backend) labels the WARNING logged before each sleep. When the
    retries end (``stop`` set at the check after a failure, or ``max_attempts`` reached) the last
    error is re-raised. tenacity starts the next attempt right after an interrupted sleep, so a loop
    of ``for attempt in retrying(...)`` should test ``stop.is_set()`` first thing in each attempt;
    :func:`call_with_retry` does that for you.
    """
    stop_condition: tenacity.stop.stop_base = tenacity.stop_when_event_set(stop)
    if max_attempts is not None:
        stop_condition = stop_condition | tenacity.stop_after_attempt(max_attempts)
    return tenacity.Retrying(
        sleep=tenacity.sleep_using_event(stop),
        stop=stop_condition,
        wait=wait if wait is not None else ClientGoBackoff(),
        retry=tenacity.retry_if_exception_type(retry_on),
        before_sleep=_log_before_sleep(name),
        reraise=True,
        name=name,
    )


class _Stopped:
    """Marks an attempt skipped because shutdown was requested."""


_STOPPED = _Stopped()


def call_with_retry(
    fn: Callable[[], T],
    stop: threading.Event,
    *,
    name: str,
    wait: wait_base | None = None,
    retry_on: tuple[type[BaseException], ...] = (InformerMirrorError,),
    max_attempts: int | None = None,
) -> T | None:
    """Call ``fn`` until it succeeds; ``None`` once ``stop`` is set (no attempt starts after that).

    Errors outside ``retry_on`` propagate at once; after ``max_attempts`` the last error does.
    """

    def attempt() -> T | _Stopped:
        if stop.is_set():
            return _STOPPED
        return fn()

    def on_give_up(retry_state: tenacity.RetryCallState) -> T | _Stopped:
        if stop.is_set():
            return _STOPPED
        assert retry_state.outcome is not None
        result: T = retry_state.outcome.result()  # re-raises the last error
        return result

    retryer = retrying(stop, name=name, wait=wait, retry_on=retry_on, max_attempts=max_attempts)
    retryer = retryer.copy(retry_error_callback=on_give_up)
    result = retryer(attempt)
    if isinstance(result, _Stopped):
        return None
    return result


class CircuitState(enum.Enum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerPolicy:
    """When a circuit opens and how long it stays open."""

    max_failures: int = 5
    """Consecutive failures that open a closed circuit (the seed's "max 5 retries")."""
    base_delay: float = 5.0
    """Cool-down of the first opening, seconds; doubles with each consecutive opening."""
    max_delay: float = 300.0
    """Longest cool-down, seconds. The circuit always half-opens again: it never gives up."""

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError("breaker: max_failures must be >= 1")
        if self.base_delay <= 0 or self.max_delay < self.base_delay:
            raise ValueError("breaker: need 0 < base_delay <= max_delay")


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitSnapshot:
    """A consistent copy of a breaker's state, safe to hand to another thread."""

    state: CircuitState
    """Current state (an expired OPEN still reads OPEN until someone asks to attempt)."""
    consecutive_failures: int
    """Failures since the last success."""
    consecutive_opens: int
    """Openings since the last success; sets the current cool-down."""
    last_error: str | None
    """``Type: message`` of the latest failure, ``None`` after a success."""
    opened_at: float | None
    """Clock time of the latest opening, ``None`` while CLOSED."""
    next_attempt_at: float | None
    """Clock time when an open circuit lets one trial through, ``None`` unless OPEN."""


class CircuitBreaker:
    """closed -> (max_failures in a row) -> open for a cool-down -> half-open: one trial.

    A trial that succeeds closes the circuit and forgets its history; one that fails re-opens it
    with twice the cool-down, up to ``max_delay``. Callers ask :meth:`allow` before each attempt
    and report with :meth:`record_success` / :meth:`record_failure`; while it says no they wait
    :meth:`seconds_until_attempt` on their stop event.
    """

    def __init__(
        self, policy: BreakerPolicy | None = None, *, name: str, clock: Clock = time.monotonic
    ) -> None:
        self.policy = policy or BreakerPolicy()
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opens = 0
        self._last_error: str | None = None
        self._opened_at: float | None = None
        self._next_attempt_at: float | None = None
        self._trial_granted = False

    def allow(self) -> bool:
        """May an attempt start now? Grants exactly one trial per half-open period."""
        with self._lock:
            if self._state is CircuitState.CLOSED:
                return True
            if self._state is CircuitState.OPEN:
                assert self._next_attempt_at is not None
                if self._clock() < self._next_attempt_at:
                    return False
                self._state = CircuitState.HALF_OPEN
                self._next_attempt_at = None
                logger.info("%s: circuit half-open, allowing one trial", self.name)
            if self._trial_granted:
                return False
            self._trial_granted = True
            return True

    def seconds_until_attempt(self) -> float:
        """0 when an attempt may be asked for now, else the rest of the cool-down."""
        with self._lock:
            if self._state is CircuitState.OPEN and self._next_attempt_at is not None:
                return max(0.0, self._next_attempt_at - self._clock())
            return 0.0

    def record_success(self) -> None:
        """The attempt worked: close the circuit and forget failures and openings."""
        with self._lock:
            if self._state is not CircuitState.CLOSED:
                logger.info("%s: circuit closed after a successful trial", self.name)
            self._state = CircuitState.CLOSED
            self._failures = 0
            self._opens = 0
            self._last_error = None
            self._opened_at = None
            self._next_attempt_at = None
            self._trial_granted = False

    def record_failure(self, error: BaseException | str) -> None:
        """The attempt failed: count it, and open (or re-open) the circuit when due."""
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        with self._lock:
            self._failures += 1
            self._last_error = message
            if self._state is CircuitState.HALF_OPEN or (
                self._state is CircuitState.CLOSED and self._failures >= self.policy.max_failures
            ):
                self._open_locked()

    def _open_locked(self) -> None:
        self._opens += 1
        exponent = min(self._opens - 1, 64)  # 2.0**64 already dwarfs any max_delay
        cooldown = min(self.policy.base_delay * 2.0**exponent, self.policy.max_delay)
        now = self._clock()
        self._state = CircuitState.OPEN
        self._opened_at = now
        self._next_attempt_at = now + cooldown
        self._trial_granted = False
        logger.warning(
            "%s: circuit open for %.1f s after %d consecutive failures (last: %s)",
            self.name,
            cooldown,
            self._failures,
            self._last_error,
        )

    @property
    def state(self) -> CircuitState:
        """Current state (see :class:`CircuitSnapshot` for the whole picture)."""
        with self._lock:
            return self._state

    def snapshot(self) -> CircuitSnapshot:
        """Everything /status and /metrics show, read atomically."""
        with self._lock:
            return CircuitSnapshot(
                state=self._state,
                consecutive_failures=self._failures,
                consecutive_opens=self._opens,
                last_error=self._last_error,
                opened_at=self._opened_at,
                next_attempt_at=self._next_attempt_at,
            )
