"""Swapping a card for a bank token, so the card itself is never stored or published."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from kafka_restaurants.api.errors import FieldError, OrderRejected, PaymentServiceUnavailable

CARD_FIELDS = {"number", "exp_month", "exp_year", "cvc"}


class CardDetails(Protocol):
    number: str
    exp_month: int
    exp_year: int
    cvc: str


@dataclass(frozen=True)
class PaymentToken:
    token: str
    brand: str
    last4: str


class CardTokens:
    """The bank's tokenization endpoint over a kept-alive HTTP connection pool."""

    def __init__(self, bank_url: str, timeout: float = 5.0) -> None:
        self._client = httpx.Client(
            base_url=bank_url,
            timeout=httpx.Timeout(timeout, connect=2.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def tokenize(self, card: CardDetails) -> PaymentToken:
        """Token, brand and last4 for the card; OrderRejected names the field the bank refused."""
        body = {
            "number": card.number,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "cvc": card.cvc,
        }
        try:
            response = self._client.post("/v1/tokens", json=body)
        except httpx.HTTPError as exc:
            raise PaymentServiceUnavailable(f"bank unreachable: {type(exc).__name__}") from None
        if response.status_code in (200, 201):
            data = response.json()
            return PaymentToken(token=data["token"], brand=data["brand"], last4=data["last4"])
        if response.status_code == 422:
            raise OrderRejected(card_errors(response.json()))
        raise PaymentServiceUnavailable(f"bank answered {response.status_code}")

    def close(self) -> None:
        self._client.close()


def card_errors(body: object) -> list[FieldError]:
    """The bank's 422 details, relocated under the order's `card` field."""
    errors: list[FieldError] = []
    details = body.get("detail") if isinstance(body, dict) else None
    for detail in details if isinstance(details, list) else []:
        loc = detail.get("loc", []) if isinstance(detail, dict) else []
        field = next((part for part in reversed(loc) if part in CARD_FIELDS), None)
        errors.append(
            FieldError(
                ("body", "card", field) if field else ("body", "card"),
                str(detail.get("msg", "card refused")),
                str(detail.get("type", "card_invalid")),
            )
        )
    return errors or [FieldError(("body", "card"), "the bank refused this card", "card_invalid")]
