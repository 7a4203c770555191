"""The cart: rules for changing and pricing it, and its signed-cookie form (replicas keep no
state)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

from kafka_restaurants.web.api_client import MenuItem, Restaurant

COOKIE_NAME = "cart"
COOKIE_MAX_AGE = 7 * 24 * 3600
MAX_QUANTITY = 20
MAX_LINES = 30


@dataclass(frozen=True)
class CartLine:
    """One menu item and how many of it."""

    menu_item_id: int
    quantity: int


@dataclass(frozen=True)
class Cart:
    """Items from one restaurant; an empty cart belongs to no restaurant."""

    restaurant_id: int | None = None
    lines: tuple[CartLine, ...] = field(default_factory=tuple)

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    def quantity_of(self, menu_item_id: int) -> int:
        """How many of this menu item the cart holds (0 when none)."""
        return next((ln.quantity for ln in self.lines if ln.menu_item_id == menu_item_id), 0)


class CartConflict(Exception):
    """The cart already holds items from another restaurant."""

    def __init__(self, current_restaurant_id: int) -> None:
        super().__init__(f"cart holds items from restaurant {current_restaurant_id}")
        self.current_restaurant_id = current_restaurant_id


class CartFull(Exception):
    """The cart has as many different items as we accept."""


def clamp_quantity(quantity: int) -> int:
    """Keep a requested quantity within 0..MAX_QUANTITY."""
    return max(0, min(MAX_QUANTITY, quantity))


def add_item(
    cart: Cart, restaurant_id: int, menu_item_id: int, quantity: int, *, start_over: bool = False
) -> Cart:
    """Add `quantity` of an item; adding from another restaurant raises CartConflict unless
    `start_over`, which empties the cart first."""
    if not cart.is_empty and cart.restaurant_id != restaurant_id:
        if not start_over:
            raise CartConflict(cart.restaurant_id or 0)
        cart = Cart()
    quantity = clamp_quantity(quantity)
    if quantity == 0:
        return cart
    if cart.quantity_of(menu_item_id) == 0 and len(cart.lines) >= MAX_LINES:
        raise CartFull
    total = clamp_quantity(cart.quantity_of(menu_item_id) + quantity)
    return set_quantity(replace(cart, restaurant_id=restaurant_id), menu_item_id, total)


def set_quantity(cart: Cart, menu_item_id: int, quantity: int) -> Cart:
    """Set an item's quantity; 0 removes the line, keeping the other lines in order."""
    quantity = clamp_quantity(quantity)
    lines: list[CartLine] = []
    found = False
    for line in cart.lines:
        if line.menu_item_id == menu_item_id:
            found = True
            if quantity:
                lines.append(CartLine(menu_item_id, quantity))
        else:
            lines.append(line)
    if not found and quantity:
        lines.append(CartLine(menu_item_id, quantity))
    if not lines:
        return Cart()
    return Cart(restaurant_id=cart.restaurant_id, lines=tuple(lines))


def remove_item(cart: Cart, menu_item_id: int) -> Cart:
    """Drop an item from the cart."""
    return set_quantity(cart, menu_item_id, 0)


def cart_from_order(restaurant_id: int | None, lines: Iterable[tuple[int, int]]) -> Cart:
    """A cart holding an earlier order's items, to try them again (e.g. with another card)."""
    cart = Cart()
    if restaurant_id is None:
        return cart
    for menu_item_id, quantity in lines:
        try:
            cart = add_item(cart, restaurant_id, menu_item_id, quantity)
        except CartFull:
            break
    return cart


@dataclass(frozen=True)
class PricedLine:
    """A cart line joined with the menu: what the cart and checkout pages show."""

    item: MenuItem
    quantity: int

    @property
    def total_minor(self) -> int:
        return self.item.price_minor * self.quantity


def price_cart(cart: Cart, restaurant: Restaurant) -> tuple[list[PricedLine], int, list[int]]:
    """Lines with today's menu prices, their total, and ids no longer on the menu."""
    lines, missing = [], []
    for line in cart.lines:
        item = restaurant.menu_item(line.menu_item_id)
        if item is None or not item.available:
            missing.append(line.menu_item_id)
        else:
            lines.append(PricedLine(item, line.quantity))
    return lines, sum(line.total_minor for line in lines), missing


class CartCookie:
    """Turns a cart into a signed cookie value and back; a tampered value reads as empty."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="kafka-restaurants.cart")

    def dumps(self, cart: Cart) -> str:
        """The signed cookie value for `cart`."""
        lines = [[ln.menu_item_id, ln.quantity] for ln in cart.lines]
        payload = {"r": cart.restaurant_id, "l": lines}
        return self._serializer.dumps(payload)

    def loads(self, value: str | None) -> Cart:
        """The cart in a cookie value; missing, expired, tampered or malformed means empty."""
        if not value:
            return Cart()
        try:
            payload = self._serializer.loads(value, max_age=COOKIE_MAX_AGE)
            return _cart_from_payload(payload)
        except (BadData, TypeError, ValueError, KeyError):
            return Cart()


def _cart_from_payload(payload: Any) -> Cart:
    restaurant_id = payload["r"]
    lines = tuple(
        CartLine(int(item_id), clamp_quantity(int(qty)))
        for item_id, qty in payload["l"][:MAX_LINES]
        if clamp_quantity(int(qty)) > 0
    )
    if restaurant_id is None or not lines:
        return Cart()
    return Cart(restaurant_id=int(restaurant_id), lines=lines)
