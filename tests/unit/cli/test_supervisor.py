"""The supervisor's pause before a restart. No processes, no sleeps."""

from __future__ import annotations

from kafka_restaurants.cli.supervisor import restart_pause


def test_the_pause_doubles_with_recent_restarts_up_to_half_a_minute() -> None:
    assert [restart_pause(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
