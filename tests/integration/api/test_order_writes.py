"""The order write path, relay and status updates on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.api.bank_client import CardDetails, PaymentToken
from kafka_restaurants.api.order_status import PaymentResultsApplied, apply_payment_results
from kafka_restaurants.api.ordering import place_order
from kafka_restaurants.api.outbox import OutboxRelay
from kafka_restaurants.api.schemas import PlaceOrderRequest
from kafka_restaurants.api.tables import (
    MenuItem,
    Order,
    OrderLineRow,
    OrderTimelineEntry,
    OutboxRecord,
    Restaurant,
)
from kafka_restaurants.db import create_db_engine, session_factory
from kafka_restaurants.events import OrderConfirmed, OrderDeclined, OrderPlaced
from kafka_restaurants.messaging.producer import Record, RecordPublisher
from tests.integration.api.conftest import seed_small_catalog


class FakeBank:
    """Tokenizes every card as the bank would for 4242..., and counts the calls."""

    calls = 0

    def tokenize(
        self, card: CardDetails, reference: str, max_amount: int, currency: str
    ) -> PaymentToken:
        self.calls += 1
        return PaymentToken(token=f"tok_{self.calls}", brand="visa", last4=card.number[-4:])


class ScriptedPublisher(RecordPublisher):
    """Acknowledges records as told, without Kafka."""

    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.published: list[Record] = []

    def publish(self, records: list[Record]) -> list[bool]:
        results = [self.answers[i % len(self.answers)] for i in range(len(records))]
        self.published.extend(r for r, ok in zip(records, results, strict=True) if ok)
        return results


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    seed_small_catalog(database_url)
    engine = create_db_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def order_request(sessions: sessionmaker[Session], quantity: int = 2) -> PlaceOrderRequest:
    with sessions() as session:
        place = session.scalar(select(Restaurant).where(Restaurant.name == "Cafe Italia"))
        assert place is not None
        items = session.scalars(select(MenuItem).where(MenuItem.restaurant_id == place.id)).all()
        return PlaceOrderRequest.model_validate(
            {
                "restaurant_id": place.id,
                "items": [{"menu_item_id": item.id, "quantity": quantity} for item in items],
                "email": "dana@example.com",
                "name": "Dana Levi",
                "delivery_address": "Dizengoff 100",
                "card": {
                    "number": "4242424242424242",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "cvc": "123",
                },
            }
        )


def test_an_order_is_written_with_its_lines_timeline_and_event(
    sessions: sessionmaker[Session],
) -> None:
    bank = FakeBank()
    placed, created = place_order(sessions, bank, order_request(sessions), "key-1", None)
    assert created and placed.status == "pending" and placed.total_minor == 2 * 2 * 4000
    again, created_again = place_order(sessions, bank, order_request(sessions), "key-1", None)
    assert (again, created_again) == (placed, False)
    assert bank.calls == 1  # the repeat never reached the bank

    with sessions() as session:
        order = session.get(Order, placed.order_id)
        assert order is not None
        assert (order.restaurant_name, order.card_last4, order.payment_token) == (
            "Cafe Italia",
            "4242",
            "tok_1",
        )
        lines = session.scalars(
            select(OrderLineRow)
            .where(OrderLineRow.order_id == order.id)
            .order_by(OrderLineRow.position)
        ).all()
        assert [(line.name, line.quantity, line.line_total_minor) for line in lines] == [
            ("Lasagna", 2, 8000),
            ("Tiramisu", 2, 8000),
        ]
        assert [entry.event for entry in order.timeline] == ["placed"]
        [outbox] = session.scalars(select(OutboxRecord)).all()
    event = OrderPlaced.model_validate_json(outbox.payload)
    assert (outbox.key, event.order_id, event.order.total_minor) == (order.id, order.id, 16000)
    assert event.payment.token == "tok_1"
    assert "4242424242424242" not in outbox.payload


def test_payment_results_settle_each_order_once(sessions: sessionmaker[Session]) -> None:
    bank = FakeBank()
    first, _ = place_order(sessions, bank, order_request(sessions))
    second, _ = place_order(sessions, bank, order_request(sessions))
    with sessions() as session:
        placed = OrderPlaced.model_validate_json(
            session.scalars(select(OutboxRecord.payload)).first() or ""
        )
    paid = OrderConfirmed(order_id=first.order_id, order=placed.order, charge_id="ch_1")
    batch: list[OrderConfirmed | OrderDeclined] = [
        paid,
        paid,  # redelivered within the batch
        OrderDeclined(order_id=first.order_id, decline_code="late", reason="too late"),
        OrderDeclined(order_id=second.order_id, decline_code="card_declined", reason="No."),
        OrderConfirmed(
            order_id="00000000-0000-4000-8000-000000000000", order=placed.order, charge_id="ch_x"
        ),
    ]
    stray = {"00000000-0000-4000-8000-000000000000"}
    with sessions() as session, session.begin():
        applied = apply_payment_results(session.connection(), batch)
    assert applied == PaymentResultsApplied(["confirmed", "declined"], frozenset(stray))
    with sessions() as session, session.begin():  # a replay of the whole batch
        replayed = apply_payment_results(session.connection(), batch)
    assert replayed == PaymentResultsApplied([], frozenset(stray))

    with sessions() as session:
        one, two = session.get(Order, first.order_id), session.get(Order, second.order_id)
        assert one is not None and two is not None
        assert (one.status, one.decline_code) == ("confirmed", None)
        assert (two.status, two.decline_code, two.decline_reason) == (
            "declined",
            "card_declined",
            "No.",
        )
        assert two.updated_at > two.created_at
        events = {
            order_id: [
                e
                for (o, e) in session.execute(
                    select(OrderTimelineEntry.order_id, OrderTimelineEntry.event).order_by(
                        OrderTimelineEntry.id
                    )
                )
                if o == order_id
            ]
            for order_id in (one.id, two.id)
        }
    assert events == {one.id: ["placed", "paid"], two.id: ["placed", "declined"]}


def test_relay_marks_what_kafka_took_and_keeps_the_rest(
    sessions: sessionmaker[Session],
) -> None:
    bank = FakeBank()
    ids = [place_order(sessions, bank, order_request(sessions))[0].order_id for _ in range(5)]
    flaky = ScriptedPublisher([True, False])
    relay = OutboxRelay(sessions, flaky)
    assert relay.relay_once() == (3, 2)
    assert [r.key.decode() for r in flaky.published] == [ids[0], ids[2], ids[4]]
    with sessions() as session:
        rows = session.scalars(select(OutboxRecord).order_by(OutboxRecord.id)).all()
        assert [r.published_at is not None for r in rows] == [True, False, True, False, True]
        assert all(r.claimed_by is None and r.claimed_until is None for r in rows)
        assert all(r.attempts == 1 for r in rows)
    assert relay.backlog() == 2

    healthy = ScriptedPublisher([True])
    relay.publisher = healthy
    assert relay.relay_once() == (2, 0)
    assert [r.key.decode() for r in healthy.published] == [ids[1], ids[3]]
    assert relay.relay_once() == (0, 0)
    assert relay.backlog() == 0
    with sessions() as session:
        published = session.scalars(select(OutboxRecord.published_at)).all()
    assert all(p is not None and p <= datetime.now(UTC) for p in published)
