"""The payment rule, answer by answer: no bank, no broker, just the decision."""

from __future__ import annotations

from typing import Any

import pytest

from kafka_restaurants.events import (
    InvalidEvent,
    OrderConfirmed,
    OrderDeclined,
    OrderPlaced,
    encode,
)
from kafka_restaurants.messaging.outcomes import DeadLetter, Done, Incoming, Retry
from kafka_restaurants.transactions.bank_wire import BankReply, BankUnreachable
from kafka_restaurants.transactions.charging import (
    PAYMENT_FAILED,
    OutputTopics,
    charge_for_order,
    charge_request,
    dead_letter_for,
    read_order,
)
from tests.unit.transactions.samples import placed

TOPICS = OutputTopics(confirmed="confirm-here", declined="declined-here")


def charge(status: str, decline_code: str | None = None, code: int = 201) -> BankReply:
    body: dict[str, Any] = {
        "charge_id": "ch_1",
        "status": status,
        "decline_code": decline_code,
        "amount": 2550,
        "currency": "EUR",
        "reference": "ord_123",
    }
    return BankReply(code, body)


def only_output(outcome: object) -> tuple[str, object]:
    assert isinstance(outcome, Done), outcome
    [output] = outcome.outputs
    return output.topic, output.event


def test_charge_is_keyed_and_referenced_by_the_order_for_its_total() -> None:
    request = charge_request(placed("ord_9", total=1234, currency="USD"))
    assert request.idempotency_key == "ord_9"
    assert request.body() == {
        "token": "tok_abc",
        "amount": 1234,
        "currency": "USD",
        "reference": "ord_9",
    }


@pytest.mark.parametrize("http_status", [201, 200])  # 200: an idempotent replay
def test_succeeded_charge_confirms_the_order(http_status: int) -> None:
    order = placed()
    topic, event = only_output(
        charge_for_order(order, charge("succeeded", code=http_status), TOPICS)
    )
    assert topic == "confirm-here"
    assert isinstance(event, OrderConfirmed)
    assert event.order_id == "ord_123"
    assert event.charge_id == "ch_1"
    assert event.order == order.order


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("card_declined", "The card was declined."),
        ("insufficient_funds", "The card has insufficient funds."),
        ("something_new", "The card was declined."),
        (None, "The card was declined."),
    ],
)
def test_declined_charge_declines_the_order_in_plain_words(code: str | None, reason: str) -> None:
    topic, event = only_output(charge_for_order(placed(), charge("declined", code), TOPICS))
    assert topic == "declined-here"
    assert isinstance(event, OrderDeclined)
    assert event.order_id == "ord_123"
    assert event.decline_code == (code or "card_declined")
    assert event.reason == reason


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("token_expired", "expired before payment"),
        ("token_used", "already used"),
        ("token_reference_mismatch", "did not match this order"),
        ("token_currency_mismatch", "did not match this order"),
        ("amount_over_token_limit", "more than the card authorization"),
    ],
)
def test_a_token_the_bank_refused_declines_the_order_asking_for_a_new_one(
    code: str, words: str
) -> None:
    """Nothing was charged, and only a new order (a new token) can pay: say so, not "card"."""
    topic, event = only_output(charge_for_order(placed(), charge("declined", code), TOPICS))
    assert topic == "declined-here"
    assert isinstance(event, OrderDeclined)
    assert event.decline_code == code
    assert words in event.reason and event.reason.endswith("Please place the order again.")


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
def test_transient_bank_errors_are_retried(status: int) -> None:
    outcome = charge_for_order(placed(), BankReply(status, {"error": "processing_error"}), TOPICS)
    assert isinstance(outcome, Retry)
    assert str(status) in outcome.reason
    assert "processing_error" in outcome.reason


@pytest.mark.parametrize("reason", ["timed out (ReadTimeout)", "ConnectError: refused"])
def test_no_answer_is_retried(reason: str) -> None:
    outcome = charge_for_order(placed(), BankUnreachable(reason), TOPICS)
    assert isinstance(outcome, Retry)
    assert reason in outcome.reason


@pytest.mark.parametrize(
    ("status", "words"), [(404, "does not know"), (409, "different"), (422, "rejected")]
)
def test_permanent_refusals_fail_the_payment_visibly(status: int, words: str) -> None:
    outcome = charge_for_order(placed(), BankReply(status, {"detail": []}), TOPICS)
    topic, event = only_output(outcome)
    assert topic == "declined-here"
    assert isinstance(event, OrderDeclined)
    assert event.decline_code == PAYMENT_FAILED
    assert words in event.reason


@pytest.mark.parametrize("status", [401, 403, 302])
def test_unexpected_answers_keep_the_order_and_retry(status: int) -> None:
    assert isinstance(charge_for_order(placed(), BankReply(status, {}), TOPICS), Retry)


@pytest.mark.parametrize(
    "body", [{}, {"status": "succeeded"}, {"status": "pending", "charge_id": "ch_1"}]
)
def test_unreadable_success_is_retried_not_guessed(body: dict[str, Any]) -> None:
    assert isinstance(charge_for_order(placed(), BankReply(201, body), TOPICS), Retry)


def test_default_topics_are_the_contract_topics() -> None:
    topic, _ = only_output(charge_for_order(placed(), charge("succeeded")))
    assert topic == "order_confirm"
    topic, _ = only_output(charge_for_order(placed(), charge("declined", "card_declined")))
    assert topic == "order_declined"


def incoming(value: bytes | None, key: bytes | None = b"ord_123", headers=None) -> Incoming:
    return Incoming("order", 0, 5, key, value, headers or [])


def test_read_order_accepts_an_encoded_order() -> None:
    encoded = encode(placed())
    order = read_order(incoming(encoded.value, encoded.key, encoded.headers))
    assert order == OrderPlaced.model_validate_json(encoded.value)
    assert order.order_id == "ord_123"


@pytest.mark.parametrize(
    ("value", "key", "headers", "why"),
    [
        (b"{not json", b"ord_123", [], "not a valid OrderPlaced"),
        (None, b"ord_123", [], "no value"),
        (placed().model_dump_json().encode(), b"other", [], "does not match"),
        (
            placed().model_dump_json().encode(),
            b"ord_123",
            [("event_type", b"OrderConfirmed")],
            "event_type",
        ),
    ],
)
def test_invalid_messages_are_dead_lettered_with_the_reason(
    value: bytes | None, key: bytes, headers: list[tuple[str, bytes]], why: str
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        read_order(incoming(value, key, headers))
    dead = dead_letter_for(caught.value)
    assert isinstance(dead, DeadLetter)
    assert why in dead.reason
