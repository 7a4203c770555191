"""Telling a retry from another order under the same Idempotency-Key: no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from kafka_restaurants.api.errors import OrderRejected
from kafka_restaurants.api.idempotency import check_same_request, request_fingerprint
from kafka_restaurants.api.schemas import PlaceOrderRequest

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}


def request(**overrides: Any) -> PlaceOrderRequest:
    body: dict[str, Any] = {
        "restaurant_id": 7,
        "items": [{"menu_item_id": 1, "quantity": 2}],
        "email": "dana@example.com",
        "name": "Dana",
        "delivery_address": "Dizengoff 1",
        "card": dict(CARD),
    }
    body.update(overrides)
    return PlaceOrderRequest.model_validate(body)


def test_the_same_request_has_the_same_fingerprint() -> None:
    assert request_fingerprint(request()) == request_fingerprint(request())
    # As validated, not as typed: surrounding blanks are stripped before ordering.
    assert request_fingerprint(request(name="  Dana ")) == request_fingerprint(request())


@pytest.mark.parametrize(
    "change",
    [
        {"items": [{"menu_item_id": 1, "quantity": 3}]},
        {"restaurant_id": 8},
        {"email": "other@example.com"},
        {"delivery_address": "Herzl 2"},
        {"fulfilment": "pickup", "delivery_address": None},
    ],
)
def test_any_change_to_the_order_changes_the_fingerprint(change: dict[str, Any]) -> None:
    assert request_fingerprint(request(**change)) != request_fingerprint(request())


def test_the_card_is_not_part_of_the_fingerprint() -> None:
    other_card = {**CARD, "number": "4000000000000002", "cvc": "999"}
    fingerprint = request_fingerprint(request(card=other_card))
    assert fingerprint == request_fingerprint(request())
    assert "4242" not in fingerprint and len(fingerprint) == 64


def test_a_different_request_under_a_used_key_is_a_409_naming_the_header() -> None:
    check_same_request(request_fingerprint(request()), request_fingerprint(request()))
    check_same_request(None, request_fingerprint(request()))  # stored before fingerprints
    with pytest.raises(OrderRejected) as caught:
        check_same_request("a" * 64, request_fingerprint(request()))
    assert caught.value.status_code == 409
    [error] = caught.value.errors
    assert error.loc == ("header", "Idempotency-Key")
    assert error.type == "idempotency_key_reused"
