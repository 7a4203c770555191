"""Ending an order whose final charge attempt failed: the bank's record of charges decides."""

from __future__ import annotations

from kafka_restaurants.events import OrderConfirmed, OrderDeclined
from kafka_restaurants.messaging.outcomes import DeadLetter, Done
from kafka_restaurants.transactions.bank_wire import (
    BankBatchFailed,
    BankReply,
    BankUnreachable,
    ChargesFound,
)
from kafka_restaurants.transactions.charging import (
    NOT_PROCESSED_REASON,
    PAYMENT_FAILED,
    OutputTopics,
    give_up_on_order,
)
from tests.unit.transactions.samples import placed

TOPICS = OutputTopics(confirmed="confirm-here", declined="declined-here")
SERVER_ERROR = BankReply(503, {"error": "processing_error"})


def test_no_charge_at_the_bank_fails_the_order_and_dead_letters_it() -> None:
    outcome = give_up_on_order(placed(), SERVER_ERROR, ChargesFound(()), 12, TOPICS)
    assert isinstance(outcome, DeadLetter)
    assert outcome.reason.startswith("gave up after 12 attempts (bank answered 503")
    [output] = outcome.outputs
    assert output.topic == "declined-here"
    assert output.event == OrderDeclined(
        order_id="ord_123",
        decline_code=PAYMENT_FAILED,
        reason="We couldn't process your payment. You were not charged.",
        occurred_at=output.event.occurred_at,
        event_id=output.event.event_id,
    )
    assert NOT_PROCESSED_REASON == "We couldn't process your payment. You were not charged."


def test_a_failed_batch_call_with_no_charge_fails_the_order_too() -> None:
    outcome = give_up_on_order(
        placed(), BankBatchFailed("bank answered the batch call 500"), ChargesFound(()), 3
    )
    assert isinstance(outcome, DeadLetter) and len(outcome.outputs) == 1


def test_a_charge_the_bank_made_confirms_the_order_instead() -> None:
    found = ChargesFound(({"charge_id": "ch_9", "status": "succeeded"},))
    outcome = give_up_on_order(placed(), BankUnreachable("timed out"), found, 12, TOPICS)
    assert isinstance(outcome, Done)
    [output] = outcome.outputs
    assert output.topic == "confirm-here"
    assert isinstance(output.event, OrderConfirmed) and output.event.charge_id == "ch_9"


def test_a_declined_charge_at_the_bank_declines_the_order() -> None:
    found = ChargesFound(
        ({"charge_id": "ch_9", "status": "declined", "decline_code": "card_declined"},)
    )
    outcome = give_up_on_order(placed(), SERVER_ERROR, found, 12, TOPICS)
    assert isinstance(outcome, Done)
    [output] = outcome.outputs
    assert isinstance(output.event, OrderDeclined) and output.event.decline_code == "card_declined"


def test_a_timed_out_call_may_still_charge_so_the_order_is_left_pending() -> None:
    outcome = give_up_on_order(placed(), BankUnreachable("timed out"), ChargesFound(()), 12)
    assert isinstance(outcome, DeadLetter)
    assert outcome.outputs == ()
    assert "left for reconciliation" in outcome.reason


def test_an_unanswered_lookup_leaves_the_order_pending() -> None:
    outcome = give_up_on_order(placed(), SERVER_ERROR, None, 12)
    assert isinstance(outcome, DeadLetter)
    assert outcome.outputs == ()
    assert "lookup failed" in outcome.reason
