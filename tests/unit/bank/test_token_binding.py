"""What a token may pay for: the binding rule, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kafka_restaurants.bank.charging import TokenBinding, binding_refusal

NOW = datetime(2031, 1, 1, 12, tzinfo=UTC)
BINDING = TokenBinding("order-1", 4200, "ILS", NOW + timedelta(hours=1))


def refusal(
    binding: TokenBinding = BINDING,
    key: str = "order-1",
    reference: str = "order-1",
    amount: int = 4200,
    currency: str = "ILS",
    now: datetime = NOW,
) -> str | None:
    return binding_refusal(binding, key, reference, amount, currency, now)


def test_the_order_it_was_made_for_may_pay_up_to_the_cap() -> None:
    assert refusal() is None
    assert refusal(amount=1) is None
    # The charge that used it asks again (a retry): still allowed.
    assert refusal(replace(BINDING, used_by="order-1")) is None


@pytest.mark.parametrize(
    ("charge", "code"),
    [
        ({"reference": "order-2"}, "token_reference_mismatch"),
        ({"reference": "ORDER-1"}, "token_reference_mismatch"),
        ({"amount": 4201}, "amount_over_token_limit"),
        ({"currency": "USD"}, "token_currency_mismatch"),
        ({"now": NOW + timedelta(hours=1)}, "token_expired"),
        ({"now": NOW + timedelta(days=30)}, "token_expired"),
    ],
)
def test_anything_else_is_declined_with_a_code(charge: dict[str, Any], code: str) -> None:
    assert refusal(**charge) == code


def test_a_used_token_refuses_every_other_charge_first() -> None:
    used = replace(BINDING, used_by="order-1")
    assert refusal(used, key="order-1-again") == "token_used"
    assert refusal(used, key="x", reference="other", now=NOW + timedelta(days=1)) == "token_used"
