"""The kitchen's tables on SQLite and PostgreSQL: one ticket per order, steps in any order."""

from collections.abc import Iterator

import pytest

from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.events import OrderStatusChanged, OrderStep
from kafka_restaurants.kitchen.store import KitchenStore
from kafka_restaurants.kitchen.tickets import ticket_row
from tests.unit.kitchen.samples import confirmed_for


@pytest.fixture
def store(database_url: str) -> Iterator[KitchenStore]:
    migrate("kitchen", database_url)
    engine = create_db_engine(database_url)
    yield KitchenStore(engine)
    engine.dispose()


def step(order_id: str, which: OrderStep) -> OrderStatusChanged:
    return OrderStatusChanged(order_id=order_id, restaurant_id=7, step=which)


def test_a_replayed_confirmation_is_one_ticket_and_newest_comes_first(store: KitchenStore) -> None:
    first, second = confirmed_for("o-1"), confirmed_for("o-2", delivery=True)
    store.record([ticket_row(first), ticket_row(first)], [])
    store.record([ticket_row(second)], [])
    store.record([ticket_row(first)], [])  # replayed later, from another batch
    assert store.count() == 2
    tickets = store.tickets(7)
    assert [t.order_id for t in tickets] == ["o-2", "o-1"]
    assert tickets[0].mode == "delivery" and tickets[0].address == "1 Herzl St"
    assert [(line.name, line.quantity) for line in tickets[1].items] == [
        ("Falafel plate", 2),
        ("Lemonade", 1),
    ]
    assert store.tickets(8) == []


def test_steps_are_kept_once_whichever_arrives_first(store: KitchenStore) -> None:
    # A replay from scratch may read order_status before order_confirm (other topic).
    store.record([], [step("o-1", OrderStep.ACCEPTED)])
    store.record([ticket_row(confirmed_for("o-1"))], [step("o-1", OrderStep.ACCEPTED)])
    store.record([], [step("o-1", OrderStep.READY), step("o-1", OrderStep.READY)])
    ticket = store.ticket("o-1")
    assert ticket is not None
    assert set(ticket.steps) == {OrderStep.ACCEPTED, OrderStep.READY}
    assert ticket.step is OrderStep.READY and ticket.next_step is None
    assert store.ticket("nope") is None
