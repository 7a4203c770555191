"""A slow check answered from its last result: asking never waits for the check."""

from __future__ import annotations

import threading

from kafka_restaurants.api.background_check import BackgroundCheck
from tests.fixtures.components import wait_for


def test_the_first_answer_is_unknown_and_a_check_starts_in_the_background() -> None:
    calls: list[int] = []
    check = BackgroundCheck(lambda: calls.append(1) is None, name="test-check")
    assert check.answer() is None
    wait_for(lambda: check.answer() is True, what="the first answer")
    assert len(calls) == 1


def test_asking_never_waits_and_one_check_runs_at_a_time() -> None:
    release = threading.Event()
    calls: list[int] = []

    def slow() -> bool:
        calls.append(1)
        release.wait(30)
        return False

    check = BackgroundCheck(slow, name="test-check")
    for _ in range(5):
        assert check.answer() is None
    release.set()
    wait_for(lambda: check.answer() is False, what="the slow answer")
    assert len(calls) == 1


def test_a_check_that_raises_answers_unreachable() -> None:
    def broken() -> bool:
        raise OSError("connection refused")

    check = BackgroundCheck(broken, name="test-check")
    check.answer()
    wait_for(lambda: check.answer() is False, what="the answer")


def test_an_answer_is_checked_again_once_it_is_older_than_max_age() -> None:
    now = [0.0]
    answers = iter([True, False])
    calls: list[int] = []

    def flaky() -> bool:
        calls.append(1)
        return next(answers)

    check = BackgroundCheck(flaky, name="test-check", max_age=5.0, clock=lambda: now[0])
    check.answer()
    wait_for(lambda: check.answer() is True)
    now[0] += 4.0
    assert check.answer() is True
    assert len(calls) == 1
    now[0] += 1.0
    assert check.answer() is True  # the stale answer, while a fresh one is fetched
    wait_for(lambda: check.answer() is False, what="the fresh answer")
    assert len(calls) == 2
