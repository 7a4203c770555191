"""Checkout rules without I/O: read the form, build the api's order request, map its errors."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

from kafka_restaurants.web.cart import Cart

# Form field names, in the order they appear on the page, and the label people see.
FIELD_LABELS = {
    "name": "Name",
    "email": "Email",
    "delivery_address": "Delivery address",
    "card_number": "Card number",
    "expiry": "Expiry",
    "cvc": "CVC",
}
PLACED_COOKIE = "placed"
PLACED_MAX_AGE = 24 * 3600
_PLACED_KEEP = 5
# What to say when the api reports a required field as missing or empty.
_MISSING = {
    "name": "Enter your name.",
    "email": "Enter your email address.",
    "delivery_address": "Enter the address to deliver to.",
    "card_number": "Enter the card number.",
    "expiry": "Enter the expiry date as MM/YY.",
    "cvc": "Enter the CVC.",
}
# The bank's wording is for developers ("fails the Luhn check"); people get plain words.
_FRIENDLY = {
    "luhn_check_failed": "This card number isn't valid. Check it for a typo.",
    "invalid_characters": "Enter the card number using digits only.",
    "card_expired": "This card has expired. Use another card.",
}
# What the checkout says when the api refused the order for now (503 busy, 429 too many).
BUSY_MESSAGE = "We're very busy. Your card was not charged; try again in a few seconds."
# The api answered 409: this checkout's token already placed an order with other details.
KEY_REUSED_MESSAGE = (
    "An earlier attempt of this checkout may already have placed an order with different "
    "details. Check your email for its confirmation before ordering again."
)
GENERAL = "form"  # errors that belong to no single field
ITEMS = "items"

_CARD_FIELDS = {"number": "card_number", "exp_month": "expiry", "exp_year": "expiry", "cvc": "cvc"}
_TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
_EXPIRY_RE = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


@dataclass(frozen=True)
class CheckoutForm:
    """What the checkout form sent. The card fields are never rendered back or logged."""

    name: str = ""
    email: str = ""
    mode: str = "pickup"
    delivery_address: str = ""
    card_number: str = ""
    expiry: str = ""
    cvc: str = ""

    def __repr__(self) -> str:  # keeps card data out of tracebacks and debug logs
        return f"CheckoutForm(name={self.name!r}, email={self.email!r}, mode={self.mode!r})"

    def redisplayed(self) -> dict[str, str]:
        """The values safe to put back in the form: everything except the card."""
        return {
            "name": self.name,
            "email": self.email,
            "mode": self.mode,
            "delivery_address": self.delivery_address,
        }


def read_checkout_form(form: Any, restaurant_delivers: bool) -> CheckoutForm:
    """Pick the checkout fields out of submitted form data; pickup when delivery isn't offered."""

    def text(key: str) -> str:
        value = form.get(key)
        return value.strip() if isinstance(value, str) else ""

    mode = "delivery" if restaurant_delivers and text("mode") == "delivery" else "pickup"
    return CheckoutForm(
        name=text("name"),
        email=text("email"),
        mode=mode,
        delivery_address=text("delivery_address") if mode == "delivery" else "",
        card_number=re.sub(r"[\s-]", "", text("card_number")),
        expiry=text("expiry"),
        cvc=text("cvc"),
    )


def parse_expiry(text: str) -> tuple[int, int] | None:
    """ "MM/YY" or "MM/YYYY" -> (month, four-digit year); None when it isn't a valid month."""
    match = _EXPIRY_RE.match(text)
    if not match:
        return None
    month, year = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        return None
    return month, (2000 + year if year < 100 else year)


def build_order_request(
    form: CheckoutForm, cart: Cart
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The api's POST /orders body, or the field errors we can tell without asking the api."""
    errors: dict[str, str] = {}
    expiry = parse_expiry(form.expiry)
    if expiry is None:
        errors["expiry"] = "Enter the expiry date as MM/YY, for example 04/29."
    if form.mode == "delivery" and not form.delivery_address:
        errors["delivery_address"] = "Enter the address to deliver to, or choose pickup."
    if cart.is_empty or cart.restaurant_id is None:
        errors[ITEMS] = "Your cart is empty."
    if errors or expiry is None:
        return None, errors
    payload: dict[str, Any] = {
        "restaurant_id": cart.restaurant_id,
        "items": [{"menu_item_id": ln.menu_item_id, "quantity": ln.quantity} for ln in cart.lines],
        "name": form.name,
        "email": form.email,
        "delivery_address": form.delivery_address if form.mode == "delivery" else None,
        "card": {
            "number": form.card_number,
            "exp_month": expiry[0],
            "exp_year": expiry[1],
            "cvc": form.cvc,
        },
    }
    return payload, errors


def map_api_errors(detail: Any) -> dict[str, str]:
    """Turn the api's error detail (FastAPI's 422 list, or a string) into {form field: message}."""
    if isinstance(detail, str):
        return {GENERAL: _sentence(detail)}
    if isinstance(detail, dict):
        detail = [detail]
    if not isinstance(detail, list) or not detail:
        return {GENERAL: "The order was not accepted. Please check the form and try again."}
    errors: dict[str, str] = {}
    for error in detail:
        if not isinstance(error, dict):
            continue
        field = field_for_location(error.get("loc") or [])
        errors.setdefault(field, _message_for(field, error))
    return errors or {GENERAL: "The order was not accepted. Please check the form and try again."}


def _message_for(field: str, error: dict[str, Any]) -> str:
    raw_ctx = error.get("ctx")
    ctx: dict[str, Any] = raw_ctx if isinstance(raw_ctx, dict) else {}
    empty = error.get("type") == "missing" or (
        error.get("type") == "string_too_short" and ctx.get("min_length") == 1
    )
    if empty and field in _MISSING:
        return _MISSING[field]
    friendly = _FRIENDLY.get(str(error.get("type")))
    if friendly:
        return friendly
    return _sentence(str(error.get("msg") or "is not valid"))


def field_for_location(loc: list[Any]) -> str:
    """The form field an api error location points at, e.g. ["body", "card", "cvc"] -> "cvc"."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "path"}:
        parts = parts[1:]
    if not parts:
        return GENERAL
    head = parts[0]
    if head == "card":
        return _CARD_FIELDS.get(parts[1], "card_number") if len(parts) > 1 else "card_number"
    if head in {"name", "email", "delivery_address"}:
        return head
    if head == ITEMS:
        return ITEMS
    return GENERAL


def new_checkout_token() -> str:
    """A one-time token for one checkout attempt; the api dedupes orders on it."""
    return secrets.token_hex(16)


def valid_checkout_token(token: str | None) -> bool:
    """True for a token shaped like new_checkout_token()'s."""
    return bool(token and _TOKEN_RE.match(token))


def _sentence(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    message = message.strip() or "is not valid"
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


class PlacedOrdersCookie:
    """Remembers which checkout tokens already placed which order, so a resubmitted form
    (back button, refresh, double click) leads to the same order instead of a second one."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="kafka-restaurants.placed")

    def loads(self, value: str | None) -> dict[str, str]:
        """{checkout token: order id}; empty when missing or tampered."""
        if not value:
            return {}
        try:
            pairs = self._serializer.loads(value, max_age=PLACED_MAX_AGE)
            return {str(token): str(order_id) for token, order_id in pairs}
        except (BadData, TypeError, ValueError):
            return {}

    def dumps(self, placed: dict[str, str], token: str, order_id: str) -> str:
        """The cookie value after `token` placed `order_id`, keeping the latest few."""
        pairs = [[t, o] for t, o in placed.items() if t != token][-(_PLACED_KEEP - 1) :]
        return self._serializer.dumps([*pairs, [token, order_id]])
