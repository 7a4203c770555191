"""Placing an order: validate against the catalog, price it, swap the card for a token, then
write the order and its OrderPlaced event in one transaction (the outbox)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.api.bank_client import CardTokens, PaymentToken
from kafka_restaurants.api.errors import FieldError, OrderRejected
from kafka_restaurants.api.tables import (
    MenuItem,
    Order,
    OrderLineRow,
    OrderTimelineEntry,
    OutboxRecord,
    Restaurant,
)
from kafka_restaurants.events import (
    ORDER,
    Customer,
    Delivery,
    OrderDetails,
    OrderLine,
    OrderPlaced,
    encode,
)
from kafka_restaurants.events import PaymentToken as PaymentTokenEvent

MAX_LINES = 50
MAX_QUANTITY = 50

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class LineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    menu_item_id: int
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]


class CardRequest(BaseModel):
    """The card as typed; it goes to the bank and nowhere else."""

    model_config = ConfigDict(extra="forbid")

    number: Annotated[str, Field(min_length=1, max_length=40)]
    exp_month: int
    exp_year: int
    cvc: Annotated[str, Field(min_length=1, max_length=10)]

    def __repr__(self) -> str:  # never print the card, even in a traceback
        return "CardRequest(<redacted>)"

    __str__ = __repr__


class PlaceOrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    restaurant_id: int
    items: Annotated[list[LineRequest], Field(min_length=1, max_length=MAX_LINES)]
    email: EmailStr
    name: Annotated[Text, StringConstraints(max_length=200)]
    delivery_address: Annotated[Text, StringConstraints(max_length=500)] | None = None
    fulfilment: Literal["delivery", "pickup"] | None = Field(
        default=None, description="Defaults to delivery when an address is given, else pickup"
    )
    card: CardRequest


@dataclass(frozen=True)
class PricedOrder:
    restaurant: Restaurant
    lines: list[OrderLine]
    total_minor: int
    currency: str
    delivery: Delivery


def price_order(
    restaurant: Restaurant | None, request: PlaceOrderRequest, restaurant_id: int
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
    menu: dict[int, MenuItem] = {item.id: item for item in restaurant.menu}
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


def _load_restaurant(sessions: sessionmaker[Session], restaurant_id: int) -> Restaurant | None:
    from sqlalchemy.orm import selectinload

    with sessions() as session:
        return session.scalar(
            select(Restaurant)
            .where(Restaurant.id == restaurant_id)
            .options(selectinload(Restaurant.menu))
        )


def find_by_idempotency_key(session: Session, key: str) -> Order | None:
    return session.scalar(select(Order).where(Order.idempotency_key == key))


def place_order(
    sessions: sessionmaker[Session],
    cards: CardTokens,
    request: PlaceOrderRequest,
    idempotency_key: str | None = None,
    traceparent: str | None = None,
) -> tuple[Order, bool]:
    """Accept an order for payment; returns (order, created). Raises OrderRejected on bad input.

    The same idempotency key returns the first order instead of placing a second one.
    """
    if idempotency_key:
        with sessions() as session:
            existing = find_by_idempotency_key(session, idempotency_key)
            if existing is not None:
                return existing, False
    priced = price_order(
        _load_restaurant(sessions, request.restaurant_id), request, request.restaurant_id
    )
    token = cards.tokenize(request.card)
    order_id = str(uuid.uuid4())
    event = order_placed_event(order_id, priced, request, token)
    encoded = encode(event, traceparent)
    now = datetime.now(UTC)
    order = Order(
        id=order_id,
        idempotency_key=idempotency_key,
        restaurant_id=priced.restaurant.id,
        restaurant_name=priced.restaurant.name,
        customer_name=request.name,
        customer_email=str(request.email),
        delivery_mode=priced.delivery.mode,
        delivery_address=priced.delivery.address,
        total_minor=priced.total_minor,
        currency=priced.currency,
        payment_token=token.token,
        card_brand=token.brand,
        card_last4=token.last4,
        status="pending",
        created_at=now,
        updated_at=now,
        lines=[
            OrderLineRow(position=i, **line.model_dump()) for i, line in enumerate(priced.lines)
        ],
        timeline=[OrderTimelineEntry(event="placed", at=now)],
    )
    outbox = OutboxRecord(
        topic=ORDER,
        key=order_id,
        payload=encoded.value.decode("utf-8"),
        headers=json.dumps([[name, value.decode()] for name, value in encoded.headers]),
        created_at=now,
        attempts=0,
    )
    try:
        with sessions() as session, session.begin():
            session.add_all([order, outbox])
    except IntegrityError:
        # Another request with the same idempotency key won the race: answer with its order.
        if idempotency_key:
            with sessions() as session:
                existing = find_by_idempotency_key(session, idempotency_key)
                if existing is not None:
                    return existing, False
        raise
    return order, True
