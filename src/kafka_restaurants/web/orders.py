"""How an order's state reads to a person."""

from __future__ import annotations

import re

TERMINAL_STATUSES = frozenset({"confirmed", "declined", "failed"})
_ORDER_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_STATUS_WORDS = {
    "pending": "Pending",
    "confirmed": "Confirmed",
    "declined": "Declined",
    "failed": "Failed",
}

_DECLINE_EXPLANATIONS = {
    "card_declined": "Your bank declined the card.",
    "insufficient_funds": "The card doesn't have enough funds for this order.",
    "expired_card": "The card has expired.",
    "incorrect_cvc": "The CVC doesn't match the card.",
    "invalid_card": "The card number isn't valid.",
    "processing_error": "The bank couldn't process the payment.",
    "fraud_suspected": "Your bank declined the payment as a precaution.",
}


# The kitchen's steps on a confirmed order, as the customer reads them.
_STEP_WORDS = {
    "accepted": "Accepted",
    "ready": "Ready",
    "out_for_delivery": "Out for delivery",
}


def step_word(step: str | None) -> str:
    """The customer's word for a kitchen step: "Accepted", "Ready" or "Out for delivery"."""
    return _STEP_WORDS.get(step or "", (step or "").replace("_", " ").capitalize())


def is_finished(status: str, step: str | None, mode: str) -> bool:
    """True once nothing more happens to an order: a payment that failed, or the kitchen's
    last step (ready for pickup, out for delivery)."""
    if status != "confirmed":
        return is_terminal(status)
    return step == ("out_for_delivery" if mode == "delivery" else "ready")


def order_version(status: str, step: str | None) -> str:
    """What the order page shows, as a version: it changes with the status or the step."""
    return f"{status}.{step}" if step else status


def status_word(status: str) -> str:
    """The word the order page shows: "Pending", "Confirmed", "Declined" or "Failed"."""
    return _STATUS_WORDS.get(status, status.replace("_", " ").capitalize() or "Unknown")


def is_terminal(status: str) -> bool:
    """True once an order can no longer change."""
    return status in TERMINAL_STATUSES


def decline_explanation(decline_code: str | None, decline_reason: str | None) -> str:
    """Plain words for why a payment was declined; the api's reason when the code is new to us."""
    known = _DECLINE_EXPLANATIONS.get(decline_code or "")
    if known:
        return known
    if decline_reason:
        reason = decline_reason.strip()
        return reason[0].upper() + reason[1:] + ("" if reason.endswith(".") else ".")
    return "The payment was declined."


FAILED_EXPLANATION = (
    "We couldn't complete this order because of a problem on our side. "
    "You haven't been charged; please try again later."
)


def failure_explanation(decline_reason: str | None) -> str:
    """Why an order failed on our side: the api's reason when it gives one."""
    reason = (decline_reason or "").strip()
    if not reason:
        return FAILED_EXPLANATION
    return reason[0].upper() + reason[1:] + ("" if reason.endswith(".") else ".")


def valid_order_id(order_id: str) -> bool:
    """True when the text could be an order id (keeps odd paths away from the api)."""
    return bool(_ORDER_ID_RE.match(order_id))
