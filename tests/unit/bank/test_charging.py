"""Charge rules: outcomes per test card, transient failures, fingerprints, injected faults."""

from __future__ import annotations

import random

import pytest

from kafka_restaurants.bank.cards import CardBehaviour
from kafka_restaurants.bank.charging import (
    ChargeOutcome,
    Fault,
    FaultInjector,
    fails_transiently,
    outcome_for,
    request_fingerprint,
)


@pytest.mark.parametrize(
    ("behaviour", "outcome"),
    [
        (CardBehaviour.SUCCEEDS, ChargeOutcome("succeeded")),
        (CardBehaviour.CARD_DECLINED, ChargeOutcome("declined", "card_declined")),
        (CardBehaviour.INSUFFICIENT_FUNDS, ChargeOutcome("declined", "insufficient_funds")),
        (CardBehaviour.PROCESSING_ERROR, ChargeOutcome("succeeded")),
    ],
)
def test_outcome_for_each_behaviour(behaviour: CardBehaviour, outcome: ChargeOutcome) -> None:
    assert outcome_for(behaviour) == outcome


def test_flaky_card_fails_the_first_n_attempts_then_recovers() -> None:
    flaky = CardBehaviour.PROCESSING_ERROR
    assert [fails_transiently(flaky, attempt, 2) for attempt in (1, 2, 3, 4)] == [
        True,
        True,
        False,
        False,
    ]
    assert not fails_transiently(flaky, 1, 0)
    assert not fails_transiently(CardBehaviour.SUCCEEDS, 1, 2)


def test_fingerprint_is_stable_and_sensitive_to_every_field() -> None:
    base = request_fingerprint("tok_1", 100, "ILS", "order-1")
    assert base == request_fingerprint("tok_1", 100, "ILS", "order-1")
    variants = [
        request_fingerprint("tok_2", 100, "ILS", "order-1"),
        request_fingerprint("tok_1", 101, "ILS", "order-1"),
        request_fingerprint("tok_1", 100, "USD", "order-1"),
        request_fingerprint("tok_1", 100, "ILS", "order-2"),
    ]
    assert base not in variants and len(set(variants)) == 4


def test_fault_injector_extremes() -> None:
    rng = random.Random(1)
    assert {FaultInjector(0.0, 0.0, rng).roll() for _ in range(200)} == {Fault.NONE}
    assert {FaultInjector(1.0, 0.0, rng).roll() for _ in range(200)} == {Fault.ERROR}
    assert {FaultInjector(0.0, 1.0, rng).roll() for _ in range(200)} == {Fault.TIMEOUT}


def test_fault_injector_rates_are_roughly_honoured_and_seedable() -> None:
    injector = FaultInjector(0.2, 0.1, random.Random(42))
    rolls = [injector.roll() for _ in range(5000)]
    assert 0.17 < rolls.count(Fault.ERROR) / 5000 < 0.23
    assert 0.08 < rolls.count(Fault.TIMEOUT) / 5000 < 0.12
    again = FaultInjector(0.2, 0.1, random.Random(42))
    assert [again.roll() for _ in range(5000)] == rolls


def test_batch_faults_time_out_the_whole_call_or_error_single_charges() -> None:
    rng = random.Random(7)
    assert FaultInjector(0.0, 0.0, rng).roll_batch(3) == (False, [False] * 3)
    assert FaultInjector(0.0, 1.0, rng).roll_batch(3) == (True, [False] * 3)
    assert FaultInjector(1.0, 0.0, rng).roll_batch(3) == (False, [True] * 3)
    timed_out, errored = FaultInjector(0.3, 0.0, random.Random(1)).roll_batch(10_000)
    assert not timed_out and 2700 < sum(errored) < 3300
