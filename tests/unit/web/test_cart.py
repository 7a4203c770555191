"""Cart rules and the signed cookie that carries the cart between stateless replicas."""

import pytest

from kafka_restaurants.web.cart import (
    MAX_LINES,
    MAX_QUANTITY,
    Cart,
    CartConflict,
    CartCookie,
    CartFull,
    CartLine,
    add_item,
    cart_from_order,
    remove_item,
    set_quantity,
)


def test_cookie_round_trip() -> None:
    cookie = CartCookie("secret")
    cart = Cart(restaurant_id=3, lines=(CartLine(10, 2), CartLine(11, 1)))
    assert cookie.loads(cookie.dumps(cart)) == cart


def test_tampered_cookie_is_rejected() -> None:
    cookie = CartCookie("secret")
    value = cookie.dumps(Cart(restaurant_id=3, lines=(CartLine(10, 2),)))
    payload, signature = value.split(".", 1)
    # Change one character of the payload: the signature no longer matches.
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    assert cookie.loads(f"{flipped}.{signature}") == Cart()
    assert cookie.loads(value + "x") == Cart()
    assert cookie.loads("not a cookie") == Cart()


def test_cookie_signed_with_another_secret_is_rejected() -> None:
    value = CartCookie("someone else").dumps(Cart(restaurant_id=3, lines=(CartLine(10, 2),)))
    assert CartCookie("secret").loads(value) == Cart()


def test_missing_cookie_is_an_empty_cart() -> None:
    assert CartCookie("secret").loads(None).is_empty


def test_add_accumulates_and_clamps() -> None:
    cart = add_item(Cart(), 1, 10, 2)
    cart = add_item(cart, 1, 10, 3)
    cart = add_item(cart, 1, 11, 1)
    assert cart == Cart(1, (CartLine(10, 5), CartLine(11, 1)))
    assert cart.item_count == 6
    assert add_item(cart, 1, 10, 500).quantity_of(10) == MAX_QUANTITY


def test_add_from_another_restaurant_conflicts_unless_starting_over() -> None:
    cart = add_item(Cart(), 1, 10, 2)
    with pytest.raises(CartConflict) as raised:
        add_item(cart, 2, 20, 1)
    assert raised.value.current_restaurant_id == 1
    assert add_item(cart, 2, 20, 1, start_over=True) == Cart(2, (CartLine(20, 1),))


def test_set_quantity_and_remove() -> None:
    cart = Cart(1, (CartLine(10, 2), CartLine(11, 1)))
    assert set_quantity(cart, 10, 4) == Cart(1, (CartLine(10, 4), CartLine(11, 1)))
    assert set_quantity(cart, 10, 0) == Cart(1, (CartLine(11, 1),))
    assert remove_item(remove_item(cart, 10), 11) == Cart()
    assert set_quantity(cart, 10, -3) == Cart(1, (CartLine(11, 1),))


def test_zero_quantity_add_changes_nothing() -> None:
    assert add_item(Cart(), 1, 10, 0) == Cart()


def test_cart_has_a_line_limit() -> None:
    cart = Cart(1, tuple(CartLine(i, 1) for i in range(MAX_LINES)))
    with pytest.raises(CartFull):
        add_item(cart, 1, 999, 1)
    assert add_item(cart, 1, 0, 1).quantity_of(0) == 2


def test_cart_from_an_order_keeps_its_lines_within_the_limits() -> None:
    cart = cart_from_order(7, [(101, 2), (102, 1), (101, 1), (103, MAX_QUANTITY + 5)])
    assert cart.restaurant_id == 7
    assert [(ln.menu_item_id, ln.quantity) for ln in cart.lines] == [
        (101, 3),
        (102, 1),
        (103, MAX_QUANTITY),
    ]
    assert cart_from_order(None, [(101, 1)]).is_empty
    many = cart_from_order(7, [(i, 1) for i in range(MAX_LINES + 5)])
    assert len(many.lines) == MAX_LINES
