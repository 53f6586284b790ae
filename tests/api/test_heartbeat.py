"""api.heartbeat.pulse: beats while its block runs, and not once after it, however it ends."""

from __future__ import annotations

import threading
import time

import pytest

from api import heartbeat


class Beats:
    """A sign of life that counts its beats (and fails the first ones when asked)."""

    def __init__(self, failing: int = 0) -> None:
        self.count = 0
        self.failing = failing

    def __call__(self) -> None:
        self.count += 1
        if self.count <= self.failing:
            raise OSError("database is locked")


def _beating() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(heartbeat.THREAD_PREFIX)]


def _after_block(beats: Beats) -> None:
    assert _beating() == []
    seen = beats.count
    time.sleep(0.1)
    assert beats.count == seen


def test_beats_every_period_while_the_block_runs_and_never_after() -> None:
    beats = Beats()
    with heartbeat.pulse(beats, 0.02, "t"):
        assert [t.name for t in _beating()] == ["heartbeat t"]
        time.sleep(0.3)
    assert beats.count >= 5
    _after_block(beats)


def test_a_failing_beat_is_logged_and_the_next_one_tried(caplog: pytest.LogCaptureFixture) -> None:
    beats = Beats(failing=2)
    with heartbeat.pulse(beats, 0.02, "t"):
        time.sleep(0.3)
    assert beats.count >= 4
    assert "sign of life of t not written: OSError: database is locked" in caplog.text
    _after_block(beats)


@pytest.mark.parametrize("ending", [RuntimeError("engine crashed"), KeyboardInterrupt()])
def test_the_beats_stop_when_the_block_raises_or_is_cancelled(ending: BaseException) -> None:
    beats = Beats()
    with pytest.raises(type(ending)), heartbeat.pulse(beats, 0.02, "t"):
        time.sleep(0.1)
        raise ending
    assert beats.count >= 1
    _after_block(beats)


def test_a_beat_under_way_is_waited_for() -> None:
    entered, release = threading.Event(), threading.Event()
    done: list[str] = []

    def slow_beat() -> None:
        entered.set()
        release.wait(5)
        done.append("beat")

    ended = threading.Event()

    def run() -> None:
        with heartbeat.pulse(slow_beat, 0.01, "t"):
            assert entered.wait(5)
        ended.set()

    runner = threading.Thread(target=run)
    runner.start()
    assert entered.wait(5)
    time.sleep(0.05)
    assert not ended.is_set()  # the block is over but its beat is still being written
    release.set()
    runner.join(5)
    assert ended.is_set() and done == ["beat"]
    assert _beating() == []


def test_the_period_is_a_quarter_of_the_bound() -> None:
    assert heartbeat.every_s(120.0) == 30.0
