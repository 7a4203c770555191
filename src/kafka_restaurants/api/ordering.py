"""Placing an order, the use case: validate it against the catalog and price it
(`pricing`), swap the card for a token bound to this order, then write the order and its
OrderPlaced event in one transaction (`order_store`, the outbox).

Request schemas are in `schemas`; this module only orchestrates.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.api.bank_client import CardDetails, PaymentToken
from kafka_restaurants.api.idempotency import request_fingerprint
from kafka_restaurants.api.order_store import (
    PlacedOrder,
    find_by_idempotency_key,
    insert_order,
    load_restaurant_menu,
    order_rows,
)
from kafka_restaurants.api.pricing import PricedOrder, price_order
from kafka_restaurants.api.schemas import PlaceOrderRequest
from kafka_restaurants.db import engine_of
from kafka_restaurants.events import (
    Customer,
    OrderDetails,
    OrderPlaced,
    OrderStatus,
)
from kafka_restaurants.events import PaymentToken as PaymentTokenEvent


class CardTokenizer(Protocol):
    """Swaps a card for the bank's token (bank_client.CardTokens in production)."""

    def tokenize(
        self, card: CardDetails, reference: str, max_amount: int, currency: str
    ) -> PaymentToken:
        """A token that pays order `reference`, at most `max_amount` `currency`, once."""
        ...


def order_placed_event(
    order_id: str, priced: PricedOrder, request: PlaceOrderRequest, token: PaymentToken
) -> OrderPlaced:
    """The event the payment service acts on: the order plus the card's token, never the card."""
    return OrderPlaced(
        order_id=order_id,
        order=OrderDetails(
            restaurant_id=priced.restaurant.id,
            restaurant_name=priced.restaurant.name,
            # Not validated again: the request's name and email carry the same rules, and an
            # email check costs more than the rest of the event (about 50 us).
            customer=Customer.model_construct(name=request.name, email=request.email),
            delivery=priced.delivery,
            items=priced.lines,
            total_minor=priced.total_minor,
            currency=priced.currency,
        ),
        payment=PaymentTokenEvent(token=token.token, brand=token.brand, last4=token.last4),
    )


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
    engine = engine_of(sessions)
    with engine.connect() as connection:
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
    event = order_placed_event(order_id, priced, request, token)
    rows = order_rows(
        order_id, idempotency_key, fingerprint, priced, request, token, event, traceparent
    )
    try:
        # One transaction: the order is never stored without the event that announces it.
        with engine.begin() as connection:
            insert_order(connection, rows)
    except IntegrityError:
        # Another request with the same idempotency key won the race: answer with its order.
        if idempotency_key:
            with engine.connect() as connection:
                found = find_by_idempotency_key(connection, idempotency_key, fingerprint)
            if found is not None:
                return found, False
        raise
    return PlacedOrder(order_id, OrderStatus.PENDING, priced.total_minor, priced.currency), True
