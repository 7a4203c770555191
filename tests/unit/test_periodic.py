"""Periodic: an action on a daemon thread, every interval, until stopped."""

from __future__ import annotations

import threading

from kafka_restaurants.periodic import Periodic
from tests.fixtures.components import wait_for


def test_the_action_runs_at_once_then_every_interval_until_stopped() -> None:
    calls: list[int] = []
    periodic = Periodic("t", lambda: calls.append(1), every_seconds=0.01)
    periodic.start()
    wait_for(lambda: len(calls) >= 3, timeout=10, what="three calls")
    periodic.stop()
    after_stop = len(calls)
    assert not any(t.name == "t" and t.is_alive() for t in threading.enumerate())
    assert len(calls) == after_stop


def test_a_long_interval_runs_once_at_start_and_stop_does_not_wait_for_it() -> None:
    calls: list[int] = []
    periodic = Periodic("t", lambda: calls.append(1), every_seconds=3600)
    periodic.start()
    wait_for(lambda: calls == [1], timeout=10, what="the first call")
    periodic.stop()
    assert calls == [1]


def test_first_after_one_interval_runs_nothing_when_stopped_before_it() -> None:
    calls: list[int] = []
    periodic = Periodic("t", lambda: calls.append(1), every_seconds=3600, first_at_once=False)
    periodic.start()
    periodic.stop()
    assert calls == []


def test_an_action_that_raises_is_logged_and_runs_again() -> None:
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        raise RuntimeError("database away")

    periodic = Periodic("t", flaky, every_seconds=0.01)
    periodic.start()
    try:
        wait_for(lambda: len(calls) >= 2, timeout=10, what="a second round after a failure")
    finally:
        periodic.stop()
