"""The pricing rule: an order checked against a restaurant's menu and priced (no I/O).

Every problem is reported at once, each naming its field: an unknown, repeated or sold-out
dish, delivery from a restaurant that does not deliver, a missing address, mixed currencies.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka_restaurants.api.errors import FieldError, OrderRejected
from kafka_restaurants.api.schemas import PlaceOrderRequest
from kafka_restaurants.events import Delivery, OrderLine


@dataclass(frozen=True)
class MenuEntry:
    """What pricing needs to know about one dish."""

    id: int
    name: str
    price_minor: int
    currency: str
    available: bool


@dataclass(frozen=True)
class RestaurantMenu:
    """A restaurant as ordering sees it: who, whether it delivers, and its dishes by id."""

    id: int
    name: str
    delivery: bool
    menu: dict[int, MenuEntry]


@dataclass(frozen=True)
class PricedOrder:
    restaurant: RestaurantMenu
    lines: list[OrderLine]
    total_minor: int
    currency: str
    delivery: Delivery


def price_order(
    restaurant: RestaurantMenu | None, request: PlaceOrderRequest, restaurant_id: int
) -> PricedOrder:
    """Check the order against the restaurant's menu and price it, or raise OrderRejected."""
    if restaurant is None:
        missing = FieldError(
            ("body", "restaurant_id"), f"restaurant {restaurant_id} does not exist", "missing"
        )
        raise OrderRejected([missing])
    lines, errors = _priced_lines(restaurant, request)
    delivery, delivery_error = _delivery(restaurant, request)
    if delivery_error is not None:
        errors.append(delivery_error)
    currencies = {restaurant.menu[line.menu_item_id].currency for line in lines}
    if len(currencies) > 1:
        errors.append(FieldError(("body", "items"), "items are priced in different currencies"))
    if errors:
        raise OrderRejected(errors)
    return PricedOrder(
        restaurant=restaurant,
        lines=lines,
        total_minor=sum(line.line_total_minor for line in lines),
        currency=currencies.pop(),
        delivery=delivery,
    )


def _priced_lines(
    restaurant: RestaurantMenu, request: PlaceOrderRequest
) -> tuple[list[OrderLine], list[FieldError]]:
    """Each requested dish priced from the menu, and what is wrong with the ones that can't be."""
    errors: list[FieldError] = []
    seen: set[int] = set()
    lines: list[OrderLine] = []
    for index, line in enumerate(request.items):
        loc = ("body", "items", index, "menu_item_id")
        item = restaurant.menu.get(line.menu_item_id)
        if line.menu_item_id in seen:
            errors.append(FieldError(loc, "this item is already in the order: change its quantity"))
        elif item is None:
            errors.append(
                FieldError(loc, f"item {line.menu_item_id} is not on {restaurant.name}'s menu")
            )
        elif not item.available:
            errors.append(FieldError(loc, f"{item.name} is sold out", "unavailable"))
        else:
            lines.append(
                OrderLine(
                    menu_item_id=item.id,
                    name=item.name,
                    quantity=line.quantity,
                    unit_price_minor=item.price_minor,
                    line_total_minor=item.price_minor * line.quantity,
                )
            )
        seen.add(line.menu_item_id)
    return lines, errors


def _delivery(
    restaurant: RestaurantMenu, request: PlaceOrderRequest
) -> tuple[Delivery, FieldError | None]:
    """Delivery or pickup (delivery when an address is given), and why it can't be, if so."""
    mode = request.fulfilment or ("delivery" if request.delivery_address else "pickup")
    delivery = Delivery(mode=mode, address=request.delivery_address if mode == "delivery" else None)
    if mode == "delivery" and not restaurant.delivery:
        message = f"{restaurant.name} does not deliver: choose pickup"
        return delivery, FieldError(("body", "delivery_address"), message, "no_delivery")
    if mode == "delivery" and not request.delivery_address:
        message = "a delivery address is required"
        return delivery, FieldError(("body", "delivery_address"), message, "missing")
    return delivery, None
