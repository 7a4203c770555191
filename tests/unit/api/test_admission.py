"""When the api refuses an order instead of queueing it, and what it tells the client: no I/O."""

from __future__ import annotations

import pytest

from kafka_restaurants.api.admission import (
    BACKLOG_RETRY_FACTOR,
    AdmissionLimits,
    BacklogSampler,
    OrderGate,
    Refusal,
    admit,
)

LIMITS = AdmissionLimits(max_in_flight=3, max_outbox_backlog=100, retry_after_ms=1000)


def test_orders_are_taken_under_both_limits() -> None:
    assert admit(0, 0, LIMITS) is None
    assert admit(2, 99, LIMITS) is None


def test_too_many_orders_in_flight_are_refused_with_the_base_delay() -> None:
    assert admit(3, 0, LIMITS) == Refusal("in_flight", 1000)
    assert admit(50, None, LIMITS) == Refusal("in_flight", 1000)


def test_an_outbox_backlog_over_the_threshold_refuses_for_longer() -> None:
    refusal = admit(0, 100, LIMITS)
    assert refusal == Refusal("outbox_backlog", 1000 * BACKLOG_RETRY_FACTOR)
    assert BACKLOG_RETRY_FACTOR > 1


def test_an_unknown_backlog_refuses_nothing_and_zero_turns_limits_off() -> None:
    assert admit(0, None, LIMITS) is None
    off = AdmissionLimits(max_in_flight=0, max_outbox_backlog=0, retry_after_ms=1000)
    assert admit(10**6, 10**9, off) is None


@pytest.mark.parametrize(
    ("milliseconds", "header"), [(1, "1"), (999, "1"), (1000, "1"), (1001, "2"), (5000, "5")]
)
def test_retry_after_is_whole_seconds_rounded_up(milliseconds: int, header: str) -> None:
    assert Refusal("in_flight", milliseconds).retry_after_header == header


def test_the_gate_counts_orders_in_and_out_and_refuses_over_the_limit() -> None:
    gate = OrderGate(LIMITS, lambda: 0)
    assert [gate.enter() for _ in range(3)] == [None, None, None]
    assert gate.enter() == Refusal("in_flight", 1000)
    assert gate.in_flight == 3  # a refused order is not counted
    gate.leave()
    assert gate.enter() is None
    assert gate.in_flight == 3


def test_the_gate_reads_the_backlog_for_every_order() -> None:
    backlog = [0]
    gate = OrderGate(LIMITS, lambda: backlog[0])
    assert gate.enter() is None
    backlog[0] = 150
    refusal = gate.enter()
    assert refusal is not None and refusal.reason == "outbox_backlog"
    assert gate.in_flight == 1


def test_the_sampler_keeps_the_last_count_when_counting_fails() -> None:
    answers: list[int | Exception] = [7, OSError("database away"), 9]

    def count() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    sampler = BacklogSampler(count)
    assert sampler.value() is None
    sampler.refresh()
    assert sampler.value() == 7
    sampler.refresh()
    assert sampler.value() == 7
    sampler.refresh()
    assert sampler.value() == 9
