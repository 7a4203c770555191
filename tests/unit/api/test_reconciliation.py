"""What the bank's record of an order's charges says about a pending order."""

from __future__ import annotations

from kafka_restaurants.api.reconciliation import Verdict, verdict


def test_a_succeeded_charge_confirms_the_order_with_its_charge_id() -> None:
    charges = [
        {"charge_id": "ch_1", "status": "declined", "decline_code": "card_declined"},
        {"charge_id": "ch_2", "status": "succeeded"},
    ]
    assert verdict(charges) == Verdict("confirmed", charge_id="ch_2")


def test_a_declined_charge_declines_the_order() -> None:
    found = verdict([{"charge_id": "ch_1", "status": "declined", "decline_code": "expired_card"}])
    assert (found.status, found.decline_code) == ("declined", "expired_card")
    assert found.reason == "The card was declined."


def test_no_charge_fails_the_order_saying_nothing_was_charged() -> None:
    found = verdict([])
    assert (found.status, found.decline_code) == ("failed", "payment_failed")
    assert found.reason == "We couldn't process your payment. You were not charged."


def test_a_success_without_a_charge_id_is_not_taken_for_a_charge() -> None:
    assert verdict([{"status": "succeeded"}]).status == "failed"
