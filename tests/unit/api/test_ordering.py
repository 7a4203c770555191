"""Pricing an order against a menu and settling it from a payment result: no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kafka_restaurants.api.errors import OrderRejected
from kafka_restaurants.api.order_status import UnknownOrder, settle
from kafka_restaurants.api.pricing import MenuEntry, RestaurantMenu, price_order
from kafka_restaurants.api.schemas import PlaceOrderRequest
from kafka_restaurants.events import OrderConfirmed, OrderDeclined, OrderDetails

MENU = RestaurantMenu(
    id=7,
    name="Amore Mio",
    delivery=True,
    menu={
        1: MenuEntry(1, "Pizza", 4000, "ILS", True),
        2: MenuEntry(2, "Tiramisu", 2500, "ILS", True),
        3: MenuEntry(3, "Lasagna", 5000, "ILS", False),
        4: MenuEntry(4, "Espresso", 300, "EUR", True),
    },
)


def request(**overrides: Any) -> PlaceOrderRequest:
    body: dict[str, Any] = {
        "restaurant_id": 7,
        "items": [{"menu_item_id": 1, "quantity": 2}, {"menu_item_id": 2, "quantity": 1}],
        "email": "dana@example.com",
        "name": "Dana",
        "delivery_address": "Dizengoff 1",
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"},
    }
    body.update(overrides)
    return PlaceOrderRequest.model_validate(body)


def rejected_locs(restaurant: RestaurantMenu | None, req: PlaceOrderRequest) -> list[Any]:
    with pytest.raises(OrderRejected) as caught:
        price_order(restaurant, req, req.restaurant_id)
    return [error.loc for error in caught.value.errors]


def test_prices_each_line_and_the_total() -> None:
    priced = price_order(MENU, request(), 7)
    assert [(line.name, line.line_total_minor) for line in priced.lines] == [
        ("Pizza", 8000),
        ("Tiramisu", 2500),
    ]
    assert (priced.total_minor, priced.currency) == (10500, "ILS")
    assert priced.delivery.mode == "delivery" and priced.delivery.address == "Dizengoff 1"


def test_refusals_name_the_field() -> None:
    assert rejected_locs(None, request()) == [("body", "restaurant_id")]
    sold_out = request(items=[{"menu_item_id": 3, "quantity": 1}])
    assert rejected_locs(MENU, sold_out) == [("body", "items", 0, "menu_item_id")]
    unknown = request(
        items=[{"menu_item_id": 1, "quantity": 1}, {"menu_item_id": 99, "quantity": 1}]
    )
    assert rejected_locs(MENU, unknown) == [("body", "items", 1, "menu_item_id")]
    twice = request(items=[{"menu_item_id": 1, "quantity": 1}] * 2)
    assert rejected_locs(MENU, twice) == [("body", "items", 1, "menu_item_id")]
    mixed = request(items=[{"menu_item_id": 1, "quantity": 1}, {"menu_item_id": 4, "quantity": 1}])
    assert rejected_locs(MENU, mixed) == [("body", "items")]
    pickup_only = RestaurantMenu(7, "Sabich", False, MENU.menu)
    assert rejected_locs(pickup_only, request()) == [("body", "delivery_address")]


def test_pickup_when_no_address_is_given() -> None:
    priced = price_order(MENU, request(delivery_address=None), 7)
    assert priced.delivery.mode == "pickup" and priced.delivery.address is None


def _details() -> OrderDetails:
    return OrderDetails.model_validate(
        {
            "restaurant_id": 7,
            "restaurant_name": "Amore Mio",
            "customer": {"name": "Dana", "email": "dana@example.com"},
            "delivery": {"mode": "pickup"},
            "items": [
                {
                    "menu_item_id": 1,
                    "name": "Pizza",
                    "quantity": 1,
                    "unit_price_minor": 4000,
                    "line_total_minor": 4000,
                }
            ],
            "total_minor": 4000,
            "currency": "ILS",
        }
    )


def test_settle_moves_a_pending_order_once() -> None:
    now = datetime.now(UTC)
    current = {"o-1": "pending", "o-2": "pending", "o-3": "confirmed"}
    paid = OrderConfirmed(order_id="o-1", order=_details(), charge_id="ch_1")
    declined = OrderDeclined(order_id="o-2", decline_code="card_declined", reason="Declined.")

    change, entry = settle(current, paid, now) or ({}, {})
    assert change["b_status"] == "confirmed" and entry["event"] == "paid"
    assert settle(current, paid, now) is None  # a duplicate in the same batch
    assert settle(current, OrderDeclined(order_id="o-1", decline_code="x", reason="y"), now) is None

    change, entry = settle(current, declined, now) or ({}, {})
    assert (change["b_status"], change["b_decline_code"]) == ("declined", "card_declined")
    assert entry == {"order_id": "o-2", "event": "declined", "at": declined.occurred_at}

    assert (
        settle(current, OrderConfirmed(order_id="o-3", order=_details(), charge_id="c"), now)
        is None
    )
    assert current == {"o-1": "confirmed", "o-2": "declined", "o-3": "confirmed"}


def test_a_payment_result_for_an_order_nobody_took_cannot_be_settled() -> None:
    current = {"o-1": "pending"}
    stray = OrderDeclined(order_id="nope", decline_code="card_declined", reason="Declined.")
    with pytest.raises(UnknownOrder, match="unknown order nope"):
        settle(current, stray, datetime.now(UTC))
    assert current == {"o-1": "pending"}


def test_a_payment_the_bank_refused_to_process_fails_the_order() -> None:
    current = {"o-1": "pending"}
    refused = OrderDeclined(
        order_id="o-1", decline_code="payment_failed", reason="The payment could not be processed."
    )
    change, entry = settle(current, refused, datetime.now(UTC)) or ({}, {})
    assert (change["b_status"], change["b_decline_code"]) == ("failed", "payment_failed")
    assert entry["event"] == "failed"
    assert current == {"o-1": "failed"}
