"""The kitchen's steps reach the customer's order: recorded once, only on confirmed orders."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.api.order_status import order_status_handler
from kafka_restaurants.api.order_steps import current_step
from kafka_restaurants.api.ordering import place_order
from kafka_restaurants.api.tables import Order, OrderTimelineEntry, OutboxRecord
from kafka_restaurants.events import (
    ORDER_CONFIRM,
    ORDER_DECLINED,
    ORDER_STATUS,
    Event,
    OrderConfirmed,
    OrderDeclined,
    OrderPlaced,
    OrderStatusChanged,
    OrderStep,
    encode,
)
from kafka_restaurants.messaging.outcomes import DeadLetter, Done, Incoming, Retry
from tests.integration.api.test_order_writes import FakeBank, order_request, sessions

__all__ = ["sessions"]  # the fixture, shared with the order write tests

ACCEPTED, READY, OUT = OrderStep.ACCEPTED, OrderStep.READY, OrderStep.OUT_FOR_DELIVERY


def message(topic: str, event: Event, offset: int = 0) -> Incoming:
    encoded = encode(event)
    return Incoming(topic, 0, offset, encoded.key, encoded.value, list(encoded.headers))


def timeline(sessions: sessionmaker[Session], order_id: str) -> list[str]:
    with sessions() as session:
        query = (
            select(OrderTimelineEntry.event)
            .where(OrderTimelineEntry.order_id == order_id)
            .order_by(OrderTimelineEntry.id)
        )
        return list(session.scalars(query))


def test_steps_follow_the_payment_result_and_are_recorded_once(
    sessions: sessionmaker[Session],
) -> None:
    bank = FakeBank()
    paid, _ = place_order(sessions, bank, order_request(sessions))
    declined, _ = place_order(sessions, bank, order_request(sessions))
    waiting, _ = place_order(sessions, bank, order_request(sessions))
    with sessions() as session:
        placed = OrderPlaced.model_validate_json(
            session.scalars(select(OutboxRecord.payload)).first() or ""
        )
        restaurant = session.get(Order, paid.order_id)
        assert restaurant is not None and restaurant.delivery_mode == "delivery"
        restaurant_id = restaurant.restaurant_id

    def step(order_id: str, which: OrderStep, place: int = restaurant_id) -> OrderStatusChanged:
        return OrderStatusChanged(order_id=order_id, restaurant_id=place, step=which)

    confirmation = OrderConfirmed(order_id=paid.order_id, order=placed.order, charge_id="ch_1")
    refusal = OrderDeclined(order_id=declined.order_id, decline_code="card_declined", reason="No")
    batch = [
        message(ORDER_STATUS, step(paid.order_id, ACCEPTED)),  # its confirmation comes later
        message(ORDER_CONFIRM, confirmation),
        message(ORDER_DECLINED, refusal),
        message(ORDER_STATUS, step(paid.order_id, ACCEPTED)),  # pressed twice
        message(ORDER_STATUS, step(paid.order_id, READY)),
        message(ORDER_STATUS, step(waiting.order_id, ACCEPTED)),
        message(ORDER_STATUS, step(declined.order_id, ACCEPTED)),
        message(ORDER_STATUS, step(paid.order_id, OUT, place=restaurant_id + 1)),
        message(ORDER_STATUS, step("00000000-0000-4000-8000-000000000000", ACCEPTED)),
    ]
    batch.append(Incoming(ORDER_STATUS, 0, 99, b"x", b"{not json", []))
    handler = order_status_handler(sessions)
    outcomes = asyncio.run(handler(batch))
    assert [type(o) for o in outcomes] == [
        Done,
        Done,
        Done,
        Done,
        Done,
        Retry,  # not paid yet: waits for its payment result
        DeadLetter,  # declined orders take no steps
        DeadLetter,  # another restaurant's step
        DeadLetter,  # unknown order
        DeadLetter,  # not an event
    ]
    assert "restaurant_id" in str(outcomes[7]) and "unknown order" in str(outcomes[8])
    assert timeline(sessions, paid.order_id) == ["placed", "paid", "accepted", "ready"]

    replayed = asyncio.run(handler(batch))  # a replay changes nothing
    assert [type(o) for o in replayed] == [type(o) for o in outcomes]
    assert timeline(sessions, paid.order_id) == ["placed", "paid", "accepted", "ready"]
    assert current_step(timeline(sessions, paid.order_id)) == "ready"
    assert current_step(timeline(sessions, waiting.order_id)) is None
