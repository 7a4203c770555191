"""The restart budget: a window of time, not a lifetime. No processes, no sleeps."""

from __future__ import annotations

from kafka_restaurants.restarts import RestartBudget


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_crashes_spread_over_a_long_life_are_always_restarted() -> None:
    clock = FakeClock()
    budget = RestartBudget(limit=5, window=60.0, clock=clock)
    for _ in range(100):  # one crash every 15 s for 25 minutes: at most 4 in any minute
        assert budget.spend()
        clock.now += 15.0
    assert budget.recent() == 3  # the restarts 15, 30 and 45 s ago


def test_a_burst_inside_the_window_spends_the_budget() -> None:
    clock = FakeClock()
    budget = RestartBudget(limit=5, window=60.0, clock=clock)
    for _ in range(5):
        assert budget.spend()
        clock.now += 10.0  # five restarts within 40 s
    assert not budget.spend()  # the sixth at 50 s: a crash loop
    assert budget.recent() == 5  # a refusal counts nothing


def test_the_budget_comes_back_as_restarts_leave_the_window() -> None:
    clock = FakeClock()
    budget = RestartBudget(limit=2, window=60.0, clock=clock)
    assert budget.spend() and budget.spend()
    clock.now += 59.9
    assert not budget.spend()
    clock.now += 0.1  # the first two are exactly 60 s old: outside the window
    assert budget.recent() == 0
    assert budget.spend()


def test_no_restarts_allowed_gives_up_at_the_first_exit() -> None:
    assert not RestartBudget(limit=0, window=60.0, clock=FakeClock()).spend()
