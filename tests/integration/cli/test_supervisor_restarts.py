"""Supervisor.watch over real processes that exit at once, on a fake clock (no real waiting)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kafka_restaurants.cli.processes import ProcessSpec
from kafka_restaurants.cli.supervisor import StartupFailed, Supervisor

CRASHING = ProcessSpec("crashing", ["sh", "-c", "exit 3"], ready=lambda: True)


class FakeTime:
    """A clock that moves `step` seconds whenever the supervisor sleeps, however long it asked."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if seconds >= 1:
            self.pauses.append(seconds)  # a restart pause, not the polling interval
        self.now += self.step
        time.sleep(0.001)  # let the crashing child run; the fake clock hardly moves meanwhile


def supervise(tmp_path: Path, fake: FakeTime, restarts_wanted: int) -> list[str]:
    events: list[str] = []
    supervisor = Supervisor(tmp_path, events.append, clock=fake.clock, sleep=fake.sleep)
    supervisor.start(CRASHING)

    def enough() -> bool:
        return sum("restarting" in e for e in events) >= restarts_wanted

    try:
        supervisor.watch(enough, max_restarts=5, restart_window=60.0)
    finally:
        supervisor.stop_all()
    return events


def test_crashes_spread_over_a_long_life_keep_being_restarted(tmp_path: Path) -> None:
    fake = FakeTime(step=20.0)  # exits at least 20 s apart: at most 3 in any minute
    events = supervise(tmp_path, fake, restarts_wanted=12)
    assert sum("restarting" in e for e in events) == 12
    assert max(fake.pauses) <= 4  # the pause grows with recent restarts, not lifetime ones


def test_a_burst_of_crashes_inside_the_window_tears_down(tmp_path: Path) -> None:
    fake = FakeTime(step=0.0)
    with pytest.raises(StartupFailed, match="crashing exited with code 3 after 5 restarts"):
        supervise(tmp_path, fake, restarts_wanted=100)
    assert fake.pauses == [1, 2, 4, 8, 16]
