"""Checkout rules: reading the form, building the order request, mapping the api's errors."""

import pytest

from kafka_restaurants.web.cart import Cart, CartLine
from kafka_restaurants.web.checkout import (
    CheckoutForm,
    PlacedOrdersCookie,
    build_order_request,
    field_for_location,
    map_api_errors,
    new_checkout_token,
    parse_expiry,
    read_checkout_form,
    valid_checkout_token,
)

CARD = "4242424242424242"


def _form(**overrides: str) -> dict[str, str]:
    values = {
        "name": " Dana ",
        "email": "dana@example.com",
        "mode": "delivery",
        "delivery_address": "1 Herzl St",
        "card_number": "4242 4242-4242 4242",
        "expiry": "04/29",
        "cvc": "123",
    }
    return {**values, **overrides}


def test_read_form_normalises_and_defaults_to_pickup_when_no_delivery() -> None:
    form = read_checkout_form(_form(), restaurant_delivers=True)
    assert (form.name, form.mode, form.card_number) == ("Dana", "delivery", CARD)
    pickup = read_checkout_form(_form(), restaurant_delivers=False)
    assert (pickup.mode, pickup.delivery_address) == ("pickup", "")


def test_card_never_appears_in_repr_or_redisplayed_values() -> None:
    form = read_checkout_form(_form(), restaurant_delivers=True)
    assert CARD not in repr(form) and "123" not in repr(form)
    redisplayed = form.redisplayed()
    assert set(redisplayed) == {"name", "email", "mode", "delivery_address"}
    assert CARD not in str(redisplayed)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("04/29", (4, 2029)),
        ("4/29", (4, 2029)),
        (" 12 / 2031 ", (12, 2031)),
        ("13/29", None),
        ("00/29", None),
        ("0429", None),
        ("", None),
    ],
)
def test_parse_expiry(text: str, expected: tuple[int, int] | None) -> None:
    assert parse_expiry(text) == expected


def test_build_order_request() -> None:
    cart = Cart(7, (CartLine(70, 2), CartLine(71, 1)))
    payload, errors = build_order_request(read_checkout_form(_form(), True), cart)
    assert errors == {}
    assert payload == {
        "restaurant_id": 7,
        "items": [{"menu_item_id": 70, "quantity": 2}, {"menu_item_id": 71, "quantity": 1}],
        "name": "Dana",
        "email": "dana@example.com",
        "delivery_address": "1 Herzl St",
        "card": {"number": CARD, "exp_month": 4, "exp_year": 2029, "cvc": "123"},
    }
    pickup, _ = build_order_request(read_checkout_form(_form(mode="pickup"), True), cart)
    assert pickup is not None and pickup["delivery_address"] is None


def test_build_order_request_reports_local_errors() -> None:
    form = read_checkout_form(_form(expiry="99/99", delivery_address=""), True)
    payload, errors = build_order_request(form, Cart())
    assert payload is None
    assert set(errors) == {"expiry", "delivery_address", "items"}


@pytest.mark.parametrize(
    ("loc", "field"),
    [
        (["body", "card", "number"], "card_number"),
        (["body", "card", "exp_month"], "expiry"),
        (["body", "card", "exp_year"], "expiry"),
        (["body", "card", "cvc"], "cvc"),
        (["body", "card"], "card_number"),
        (["body", "email"], "email"),
        (["body", "name"], "name"),
        (["body", "delivery_address"], "delivery_address"),
        (["body", "items", 0, "quantity"], "items"),
        (["body", "restaurant_id"], "form"),
        (["body"], "form"),
        ([], "form"),
    ],
)
def test_field_for_location(loc: list[object], field: str) -> None:
    assert field_for_location(loc) == field


def test_map_api_errors() -> None:
    detail = [
        {
            "loc": ["body", "card", "number"],
            "msg": "Value error, card number fails the Luhn check",
            "type": "value_error",
        },
        {
            "loc": ["body", "email"],
            "msg": "value is not a valid email address",
            "type": "value_error",
        },
        {"loc": ["body", "card", "exp_year"], "msg": "card has expired", "type": "value_error"},
        {
            "loc": ["body", "card", "exp_month"],
            "msg": "second expiry message",
            "type": "value_error",
        },
    ]
    assert map_api_errors(detail) == {
        "card_number": "Card number fails the Luhn check.",
        "email": "Value is not a valid email address.",
        "expiry": "Card has expired.",
    }
    missing = [
        {
            "loc": ["body", "name"],
            "msg": "String should have at least 1 character",
            "type": "string_too_short",
            "ctx": {"min_length": 1},
        },
        {"loc": ["body", "card", "cvc"], "msg": "Field required", "type": "missing"},
    ]
    assert map_api_errors(missing) == {"name": "Enter your name.", "cvc": "Enter the CVC."}
    assert map_api_errors("Restaurant not found") == {"form": "Restaurant not found."}
    assert "form" in map_api_errors([])
    assert "form" in map_api_errors(None)


def test_checkout_tokens() -> None:
    token = new_checkout_token()
    assert valid_checkout_token(token)
    assert token != new_checkout_token()
    assert not valid_checkout_token("../etc")
    assert not valid_checkout_token(None)


def test_placed_orders_cookie_remembers_recent_tokens_and_rejects_tampering() -> None:
    cookie = PlacedOrdersCookie("secret")
    value = cookie.dumps({}, "a" * 32, "order-1")
    value = cookie.dumps(cookie.loads(value), "b" * 32, "order-2")
    assert cookie.loads(value) == {"a" * 32: "order-1", "b" * 32: "order-2"}
    assert cookie.loads(value[:-2] + "zz") == {}
    assert PlacedOrdersCookie("other").loads(value) == {}
    for i in range(10):
        value = cookie.dumps(cookie.loads(value), f"{i:032d}", f"order-{i}")
    assert len(cookie.loads(value)) == 5


def test_checkout_form_default_is_pickup() -> None:
    assert CheckoutForm().mode == "pickup"


def test_bank_jargon_becomes_plain_words() -> None:
    detail = [
        {
            "loc": ["body", "card", "number"],
            "msg": "card number fails the Luhn check",
            "type": "luhn_check_failed",
        },
        {"loc": ["body", "card", "exp_year"], "msg": "card has expired", "type": "card_expired"},
    ]
    assert map_api_errors(detail) == {
        "card_number": "This card number isn't valid. Check it for a typo.",
        "expiry": "This card has expired. Use another card.",
    }
