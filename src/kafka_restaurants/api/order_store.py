"""The api's order rows in SQL (Core, not the ORM: this is the hottest write path, and ORM
objects with a unit-of-work flush cost several times more CPU for the same rows).

One query reads a restaurant with its menu; one transaction inserts an order, its lines, its
first timeline entry and its outbox row (`insert_order`), so the order is never stored
without the event that announces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, insert, select

from kafka_restaurants.api.bank_client import PaymentToken
from kafka_restaurants.api.idempotency import check_same_request
from kafka_restaurants.api.outbox import outbox_row
from kafka_restaurants.api.pricing import MenuEntry, PricedOrder, RestaurantMenu
from kafka_restaurants.api.schemas import PlaceOrderRequest
from kafka_restaurants.api.tables import (
    MENU_ITEMS,
    ORDER_LINES,
    ORDER_TIMELINE,
    ORDERS,
    OUTBOX,
    RESTAURANTS,
)
from kafka_restaurants.events import ORDER, OrderPlaced, OrderStatus, encode

# Built once: the statements are the same for every order, only their parameters change.
_MENU_QUERY = (
    select(
        RESTAURANTS.c.id,
        RESTAURANTS.c.name,
        RESTAURANTS.c.delivery,
        MENU_ITEMS.c.id.label("item_id"),
        MENU_ITEMS.c.name.label("item_name"),
        MENU_ITEMS.c.price_minor,
        MENU_ITEMS.c.currency,
        MENU_ITEMS.c.available,
    )
    .select_from(RESTAURANTS.outerjoin(MENU_ITEMS, MENU_ITEMS.c.restaurant_id == RESTAURANTS.c.id))
    .where(RESTAURANTS.c.id == bindparam("restaurant_id"))
)
_BY_IDEMPOTENCY_KEY = select(
    ORDERS.c.id,
    ORDERS.c.status,
    ORDERS.c.total_minor,
    ORDERS.c.currency,
    ORDERS.c.idempotency_fingerprint,
).where(ORDERS.c.idempotency_key == bindparam("key"))
_INSERT_ORDER = insert(ORDERS)
_INSERT_LINES = insert(ORDER_LINES)
_INSERT_TIMELINE = insert(ORDER_TIMELINE)
_INSERT_OUTBOX = insert(OUTBOX)


@dataclass(frozen=True)
class PlacedOrder:
    """What the caller is told about an accepted order."""

    order_id: str
    status: str
    total_minor: int
    currency: str


def load_restaurant_menu(connection: Connection, restaurant_id: int) -> RestaurantMenu | None:
    """The restaurant and its dishes in one query, or None when there is no such restaurant."""
    rows = connection.execute(_MENU_QUERY, {"restaurant_id": restaurant_id}).all()
    if not rows:
        return None
    first = rows[0]
    return RestaurantMenu(
        id=first.id,
        name=first.name,
        delivery=bool(first.delivery),
        menu={
            row.item_id: MenuEntry(
                row.item_id, row.item_name, row.price_minor, row.currency, bool(row.available)
            )
            for row in rows
            if row.item_id is not None
        },
    )


def find_by_idempotency_key(
    connection: Connection, key: str, fingerprint: str | None = None
) -> PlacedOrder | None:
    """The order an earlier request with this Idempotency-Key placed, if any.

    Raises OrderRejected (409) when that order asked for something else than `fingerprint`.
    """
    row = connection.execute(_BY_IDEMPOTENCY_KEY, {"key": key}).first()
    if row is None:
        return None
    check_same_request(row.idempotency_fingerprint, fingerprint)
    return PlacedOrder(row.id, row.status, row.total_minor, row.currency)


@dataclass(frozen=True)
class OrderRows:
    """The rows one accepted order writes."""

    order: dict[str, object]
    lines: list[dict[str, object]]
    timeline: dict[str, object]
    outbox: dict[str, object]


def order_rows(
    order_id: str,
    idempotency_key: str | None,
    fingerprint: str | None,
    priced: PricedOrder,
    request: PlaceOrderRequest,
    token: PaymentToken,
    event: OrderPlaced,
    traceparent: str | None,
) -> OrderRows:
    """The order, line, timeline and outbox rows of one accepted order."""
    encoded = encode(event, traceparent)
    now = datetime.now(UTC)
    order: dict[str, object] = {
        "id": order_id,
        "idempotency_key": idempotency_key,
        "idempotency_fingerprint": fingerprint,
        "restaurant_id": priced.restaurant.id,
        "restaurant_name": priced.restaurant.name,
        "customer_name": request.name,
        "customer_email": str(request.email),
        "delivery_mode": priced.delivery.mode,
        "delivery_address": priced.delivery.address,
        "total_minor": priced.total_minor,
        "currency": priced.currency,
        "payment_token": token.token,
        "card_brand": token.brand,
        "card_last4": token.last4,
        "status": OrderStatus.PENDING,
        "decline_code": None,
        "decline_reason": None,
        "created_at": now,
        "updated_at": now,
    }
    lines = [
        {
            "order_id": order_id,
            "position": position,
            "menu_item_id": line.menu_item_id,
            "name": line.name,
            "quantity": line.quantity,
            "unit_price_minor": line.unit_price_minor,
            "line_total_minor": line.line_total_minor,
        }
        for position, line in enumerate(priced.lines)
    ]
    timeline = {"order_id": order_id, "event": "placed", "at": now}
    outbox = outbox_row(ORDER, order_id, encoded, now)
    return OrderRows(order, lines, timeline, outbox)


def insert_order(connection: Connection, rows: OrderRows) -> None:
    """Insert an order's rows (in the caller's transaction)."""
    connection.execute(_INSERT_ORDER, rows.order)
    connection.execute(_INSERT_LINES, rows.lines)
    connection.execute(_INSERT_TIMELINE, rows.timeline)
    connection.execute(_INSERT_OUTBOX, rows.outbox)
