"""Placing an order: validate against the catalog, price it, swap the card for a token, then
write the order and its OrderPlaced event in one transaction (the outbox).

This is the api's hottest write path, so it talks to the database with SQLAlchemy Core: one
query reads the restaurant with its menu, one transaction inserts the order, its lines, its
first timeline entry and its outbox row (ORM objects and a unit-of-work flush cost several
times more CPU for the same rows).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.api.bank_client import CardDetails, PaymentToken
from kafka_restaurants.api.errors import FieldError, OrderRejected
from kafka_restaurants.api.idempotency import check_same_request, request_fingerprint
from kafka_restaurants.api.outbox import outbox_row
from kafka_restaurants.api.schemas import ExpiryMonth, ExpiryYear, RowId
from kafka_restaurants.api.tables import (
    MENU_ITEMS,
    ORDER_LINES,
    ORDER_TIMELINE,
    ORDERS,
    OUTBOX,
    RESTAURANTS,
)
from kafka_restaurants.db.storable import STORABLE
from kafka_restaurants.events import (
    ORDER,
    Customer,
    Delivery,
    OrderDetails,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    encode,
)
from kafka_restaurants.events import PaymentToken as PaymentTokenEvent

MAX_LINES = 50
MAX_QUANTITY = 50

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class LineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    menu_item_id: RowId
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]


class CardRequest(BaseModel):
    """The card as typed; it goes to the bank and nowhere else."""

    model_config = ConfigDict(extra="forbid")

    number: Annotated[str, Field(min_length=1, max_length=40)]
    exp_month: ExpiryMonth
    exp_year: ExpiryYear
    cvc: Annotated[str, Field(min_length=1, max_length=10)]

    def __repr__(self) -> str:  # never print the card, even in a traceback
        return "CardRequest(<redacted>)"

    __str__ = __repr__


class PlaceOrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    restaurant_id: RowId
    items: Annotated[list[LineRequest], Field(min_length=1, max_length=MAX_LINES)]
    email: EmailStr
    name: Annotated[Text, StringConstraints(max_length=200), STORABLE]
    delivery_address: Annotated[Text, StringConstraints(max_length=500), STORABLE] | None = None
    fulfilment: Literal["delivery", "pickup"] | None = Field(
        default=None, description="Defaults to delivery when an address is given, else pickup"
    )
    card: CardRequest


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


class CardTokenizer(Protocol):
    """Swaps a card for the bank's token (bank_client.CardTokens in production)."""

    def tokenize(
        self, card: CardDetails, reference: str, max_amount: int, currency: str
    ) -> PaymentToken:
        """A token that pays order `reference`, at most `max_amount` `currency`, once."""
        ...


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


@dataclass(frozen=True)
class PlacedOrder:
    """What the caller is told about an accepted order."""

    order_id: str
    status: str
    total_minor: int
    currency: str


def price_order(
    restaurant: RestaurantMenu | None, request: PlaceOrderRequest, restaurant_id: int
) -> PricedOrder:
    """Check the order against the restaurant's menu and price it, or raise OrderRejected."""
    if restaurant is None:
        raise OrderRejected(
            [
                FieldError(
                    ("body", "restaurant_id"),
                    f"restaurant {restaurant_id} does not exist",
                    "missing",
                )
            ]
        )
    menu = restaurant.menu
    errors: list[FieldError] = []
    seen: set[int] = set()
    lines: list[OrderLine] = []
    for index, line in enumerate(request.items):
        loc = ("body", "items", index, "menu_item_id")
        item = menu.get(line.menu_item_id)
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
    mode = request.fulfilment or ("delivery" if request.delivery_address else "pickup")
    if mode == "delivery" and not restaurant.delivery:
        errors.append(
            FieldError(
                ("body", "delivery_address"),
                f"{restaurant.name} does not deliver: choose pickup",
                "no_delivery",
            )
        )
    elif mode == "delivery" and not request.delivery_address:
        errors.append(
            FieldError(("body", "delivery_address"), "a delivery address is required", "missing")
        )
    currencies = {menu[line.menu_item_id].currency for line in lines}
    if len(currencies) > 1:
        errors.append(FieldError(("body", "items"), "items are priced in different currencies"))
    if errors:
        raise OrderRejected(errors)
    return PricedOrder(
        restaurant=restaurant,
        lines=lines,
        total_minor=sum(line.line_total_minor for line in lines),
        currency=currencies.pop(),
        delivery=Delivery(
            mode=mode, address=request.delivery_address if mode == "delivery" else None
        ),
    )


def order_placed_event(
    order_id: str, priced: PricedOrder, request: PlaceOrderRequest, token: PaymentToken
) -> OrderPlaced:
    """The event the payment service acts on: the order plus the card's token, never the card."""
    return OrderPlaced(
        order_id=order_id,
        order=OrderDetails(
            restaurant_id=priced.restaurant.id,
            restaurant_name=priced.restaurant.name,
            customer=Customer(name=request.name, email=request.email),
            delivery=priced.delivery,
            items=priced.lines,
            total_minor=priced.total_minor,
            currency=priced.currency,
        ),
        payment=PaymentTokenEvent(token=token.token, brand=token.brand, last4=token.last4),
    )


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


def _order_rows(
    order_id: str,
    idempotency_key: str | None,
    fingerprint: str | None,
    priced: PricedOrder,
    request: PlaceOrderRequest,
    token: PaymentToken,
    traceparent: str | None,
) -> tuple[dict[str, object], list[dict[str, object]], dict[str, object], dict[str, object]]:
    """The order, line, timeline and outbox rows of one accepted order."""
    encoded = encode(order_placed_event(order_id, priced, request, token), traceparent)
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
    return order, lines, timeline, outbox


def place_order(
    sessions: sessionmaker[Session],
    cards: CardTokenizer,
    request: PlaceOrderRequest,
    idempotency_key: str | None = None,
    traceparent: str | None = None,
) -> tuple[PlacedOrder, bool]:
    """Accept an order for payment; returns (order, created). Raises OrderRejected on bad input.

    The same idempotency key returns the first order instead of placing a second one (and asks
    the bank for no second token); the same key with a different order raises a 409.
    """
    fingerprint = request_fingerprint(request) if idempotency_key else None
    with sessions() as session:
        connection = session.connection()
        existing = (
            find_by_idempotency_key(connection, idempotency_key, fingerprint)
            if idempotency_key
            else None
        )
        restaurant = (
            load_restaurant_menu(connection, request.restaurant_id) if existing is None else None
        )
    if existing is not None:
        return existing, False
    priced = price_order(restaurant, request, request.restaurant_id)
    # The id comes first: the bank binds the token to this order and its total.
    order_id = str(uuid.uuid4())
    token = cards.tokenize(request.card, order_id, priced.total_minor, priced.currency)
    order, lines, timeline, outbox = _order_rows(
        order_id, idempotency_key, fingerprint, priced, request, token, traceparent
    )
    try:
        # One transaction: the order is never stored without the event that announces it.
        with sessions() as session, session.begin():
            connection = session.connection()
            connection.execute(_INSERT_ORDER, order)
            connection.execute(_INSERT_LINES, lines)
            connection.execute(_INSERT_TIMELINE, timeline)
            connection.execute(_INSERT_OUTBOX, outbox)
    except IntegrityError:
        # Another request with the same idempotency key won the race: answer with its order.
        if idempotency_key:
            with sessions() as session:
                found = find_by_idempotency_key(session.connection(), idempotency_key, fingerprint)
            if found is not None:
                return found, False
        raise
    return PlacedOrder(order_id, OrderStatus.PENDING, priced.total_minor, priced.currency), True
