"""The garbage-collector policy: the pause is reentrant, shared by threads and leaves the
collector as it found it; tuning freezes the start-up heap and raises the thresholds."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator

import pytest

from informer_mirror import gctuning


@pytest.fixture(autouse=True)
def _restore_collector() -> Iterator[None]:
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_off_inside_a_pause_and_back_on_after_it() -> None:
    gc.enable()
    with gctuning.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_turn_the_collector_back_on_only_when_the_outermost_ends() -> None:
    gc.enable()
    with gctuning.paused():
        with gctuning.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_pause_leaves_a_collector_that_was_already_off_off() -> None:
    gc.disable()
    with gctuning.paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_the_collector_stays_off_until_the_last_of_several_threads_leaves_its_pause() -> None:
    gc.enable()
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with gctuning.paused():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other, name="other")
    thread.start()
    try:
        assert entered.wait(10)
        with gctuning.paused():
            pass
        assert not gc.isenabled(), "the other thread is still inside its pause"
    finally:
        release.set()
        thread.join(10)
    assert gc.isenabled()


def test_a_pause_ends_when_its_body_raises() -> None:
    gc.enable()
    with pytest.raises(ValueError), gctuning.paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_tuning_freezes_the_live_heap_raises_the_thresholds_and_shortens_the_gil_slice() -> None:
    gc.unfreeze()
    survivor = [object()]  # alive across the freeze
    default_interval = sys.getswitchinterval()
    try:
        gctuning.tune_process()
        assert sys.getswitchinterval() == pytest.approx(gctuning.SWITCH_INTERVAL)
    finally:
        sys.setswitchinterval(default_interval)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (
        gctuning.YOUNG_THRESHOLD,
        gctuning.MIDDLE_THRESHOLD,
        gctuning.OLD_THRESHOLD,
    )
    assert all(o is not survivor for o in gc.get_objects()), "frozen: in no generation"
