"""The payment rule: what charging an order's card means for the order, as plain functions.

Each `OrderPlaced` ends in exactly one visible outcome: `OrderConfirmed` when the bank charged
the card, `OrderDeclined` when it declined it or refused the request for good. Transient bank
trouble is a `Retry` (safe: the charge's Idempotency-Key is the order id, so the bank never
charges twice), and a message that is not a valid `OrderPlaced` is a `DeadLetter`.

Retries are bounded: when the bank still fails on an order's final attempt, the bank's own
record of charges for the order decides (`give_up_on_order`). The order ends `failed` only when
that record shows no charge and nothing can still be in flight; otherwise it stays pending for
reconciliation, so "You were not charged" is never said of a charged card.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafka_restaurants.events import (
    ORDER_CONFIRM,
    ORDER_DECLINED,
    PAYMENT_FAILED,
    InvalidEvent,
    OrderConfirmed,
    OrderDeclined,
    OrderPlaced,
    decode,
)
from kafka_restaurants.messaging.outcomes import (
    Cause,
    DeadLetter,
    Done,
    Incoming,
    Outcome,
    Outgoing,
    Retry,
    invalid,
)
from kafka_restaurants.transactions.bank_wire import (
    BankAnswer,
    BankBatchFailed,
    BankReply,
    BankUnreachable,
    ChargeCall,
    ChargesFound,
    error_text,
)

# The bank refuses a token that cannot pay this order: nothing was charged (the order page adds
# "No money was taken."), and only a new order, with a new token, can pay. Not expected in
# normal operation: a token expires after BANK_TOKEN_TTL_SECONDS, so an order that waited that
# long for its payment (Kafka down for over an hour, say) ends this way.
PLACE_AGAIN = "Please place the order again."
TOKEN_DECLINE_REASONS: dict[str, str] = {
    "token_expired": f"The card authorization for this order expired before payment. {PLACE_AGAIN}",
    "token_used": f"The card authorization for this order was already used. {PLACE_AGAIN}",
    "token_reference_mismatch": f"The payment did not match this order. {PLACE_AGAIN}",
    "token_currency_mismatch": f"The payment did not match this order. {PLACE_AGAIN}",
    "amount_over_token_limit": "The payment was more than the card authorization for this "
    f"order. {PLACE_AGAIN}",
}

# What the customer reads on the order page, by the bank's decline code.
DECLINE_REASONS: dict[str, str] = {
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card has insufficient funds.",
    "expired_card": "The card has expired.",
    "incorrect_cvc": "The card's security code is incorrect.",
    "lost_card": "The card was declined.",
    "stolen_card": "The card was declined.",
    **TOKEN_DECLINE_REASONS,
}
GENERIC_DECLINE_REASON = "The card was declined."
# What the customer reads when we gave up on the bank and it shows no charge for the order.
NOT_PROCESSED_REASON = "We couldn't process your payment. You were not charged."

# Answers that say "not now": the same request may well succeed later.
TRANSIENT_STATUSES = frozenset({408, 425, 429})
# Answers that say "never": repeating the same request cannot change them.
PERMANENT_REFUSALS: dict[int, str] = {
    400: "The payment could not be processed: the bank rejected the request.",
    404: "The payment could not be processed: the bank does not know this card. "
    "Please place the order again.",
    409: "The payment could not be processed: the bank already has a different payment "
    "for this order.",
    422: "The payment could not be processed: the bank rejected the payment details.",
}


@dataclass(frozen=True)
class OutputTopics:
    """Where the results go; tests point these at topics of their own."""

    confirmed: str = ORDER_CONFIRM
    declined: str = ORDER_DECLINED


def read_order(message: Incoming) -> OrderPlaced:
    """The `OrderPlaced` in a consumed message; raises InvalidEvent when it is not one."""
    order = decode(message.value, message.headers, OrderPlaced)
    if message.key is not None and message.key != order.order_id.encode():
        raise InvalidEvent(
            f"message key {message.key!r} does not match order_id {order.order_id!r}",
            cause="key_mismatch",
        )
    return order


def charge_request(order: OrderPlaced) -> ChargeCall:
    """The bank charge for an order: keyed and referenced by the order id, for the order total."""
    return ChargeCall(
        idempotency_key=order.order_id,
        token=order.payment.token,
        amount=order.order.total_minor,
        currency=order.order.currency,
        reference=order.order_id,
    )


def decline_reason(decline_code: str) -> str:
    """Plain words for a decline code, for the customer."""
    return DECLINE_REASONS.get(decline_code, GENERIC_DECLINE_REASON)


def charge_for_order(
    order: OrderPlaced, answer: BankAnswer, topics: OutputTopics | None = None
) -> Outcome:
    """What happens to `order` given the bank's answer to its charge."""
    topics = topics or OutputTopics()
    if isinstance(answer, BankUnreachable):
        return Retry(f"bank unreachable: {answer.reason}", Cause.BANK_UNREACHABLE)
    if isinstance(answer, BankBatchFailed):
        return Retry(answer.reason, Cause.BANK_ERROR)
    status = answer.status_code
    if status in (200, 201):
        return _settled_charge(order, answer.body, topics)
    if status >= 500 or status in TRANSIENT_STATUSES:
        return Retry(f"bank answered {status}: {error_text(answer.body)}", Cause.BANK_ERROR)
    if status in PERMANENT_REFUSALS:
        return _declined(order, PAYMENT_FAILED, PERMANENT_REFUSALS[status], topics)
    # Anything else (401, 403, a redirect...) is our configuration, not the customer's card:
    # keep the order and retry rather than decline it for a reason the customer cannot fix.
    return Retry(f"unexpected bank answer {status}: {error_text(answer.body)}", Cause.BANK_ERROR)


def _settled_charge(order: OrderPlaced, body: Mapping[str, Any], topics: OutputTopics) -> Outcome:
    status = body.get("status")
    charge_id = body.get("charge_id")
    if status == "succeeded" and isinstance(charge_id, str) and charge_id:
        confirmed = OrderConfirmed(order_id=order.order_id, order=order.order, charge_id=charge_id)
        return Done((Outgoing(topics.confirmed, confirmed),))
    if status == "declined":
        code = body.get("decline_code")
        code = code if isinstance(code, str) and code else "card_declined"
        return _declined(order, code, decline_reason(code), topics)
    # A 2xx we cannot read: the charge's fate is unknown, and asking again with the same
    # Idempotency-Key is safe, so ask again rather than guess.
    return Retry(
        f"unreadable bank answer: status={status!r} charge_id={charge_id!r}", Cause.BANK_ERROR
    )


def give_up_on_order(
    order: OrderPlaced,
    last: BankAnswer,
    found: ChargesFound | None,
    attempts: int,
    topics: OutputTopics | None = None,
) -> Outcome:
    """How an order ends when its final charge attempt failed too (`last`), given what the
    bank's charges for it show (`found`, None when the bank could not say either).

    A charge the bank holds settles the order as that charge did. With no charge, the order
    fails (and its message is dead-lettered) only if the last attempt got an answer: a call
    that timed out may still be running at the bank, and an unanswered lookup proves nothing.
    Those orders stay pending and their messages are dead-lettered for reconciliation.
    """
    topics = topics or OutputTopics()
    gave_up = f"gave up after {attempts} attempts ({_answer_text(last)})"
    if found is None:
        return DeadLetter(
            f"{gave_up}; the charge lookup failed too, left for reconciliation",
            cause=Cause.GAVE_UP,
        )
    for charge in found.charges:
        settled = _settled_charge(order, charge, topics)
        if isinstance(settled, Done):
            return settled
    if isinstance(last, BankUnreachable):
        return DeadLetter(
            f"{gave_up}; the last call may still be running, left for reconciliation",
            cause=Cause.GAVE_UP,
        )
    failed = OrderDeclined(
        order_id=order.order_id, decline_code=PAYMENT_FAILED, reason=NOT_PROCESSED_REASON
    )
    return DeadLetter(
        f"{gave_up}; the bank has no charge for the order, so it failed",
        outputs=(Outgoing(topics.declined, failed),),
        cause=Cause.GAVE_UP,
    )


def _answer_text(answer: BankAnswer) -> str:
    if isinstance(answer, BankReply):
        return f"bank answered {answer.status_code}: {error_text(answer.body)}"
    return answer.reason


def _declined(order: OrderPlaced, code: str, reason: str, topics: OutputTopics) -> Done:
    declined = OrderDeclined(order_id=order.order_id, decline_code=code, reason=reason)
    return Done((Outgoing(topics.declined, declined),))


def dead_letter_for(error: InvalidEvent) -> DeadLetter:
    """Park a message that is not a valid order, saying why."""
    return invalid(error)
