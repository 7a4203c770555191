"""A press the broker does not take changes nothing and says to press again (real SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.events import OrderStatusChanged
from kafka_restaurants.kitchen.access import kitchen_key
from kafka_restaurants.kitchen.http_api import create_kitchen_app
from kafka_restaurants.kitchen.store import KitchenStore
from kafka_restaurants.kitchen.tickets import ticket_row
from tests.unit.kitchen.samples import confirmed_for

SECRET = "press-secret"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KitchenStore]:
    url = f"sqlite:///{tmp_path / 'kitchen.sqlite'}"
    migrate("kitchen", url)
    engine = create_db_engine(url)
    store = KitchenStore(engine)
    store.record([ticket_row(confirmed_for("o-1", 7))], [])
    yield store
    engine.dispose()


def test_a_press_kafka_refuses_is_a_503_and_records_nothing(store: KitchenStore) -> None:
    published: list[OrderStatusChanged] = []

    def broker_away(event: OrderStatusChanged) -> bool:
        published.append(event)
        return False

    app = create_kitchen_app(store, SECRET, broker_away, lambda: True)
    with TestClient(app) as client:
        response = client.post(
            "/restaurants/7/tickets/o-1/steps",
            json={"step": "accepted"},
            headers={"X-Kitchen-Key": kitchen_key(SECRET, 7)},
        )
    assert response.status_code == 503 and "press again" in response.text
    assert [e.step.value for e in published] == ["accepted"]  # it was tried, once
    ticket = store.ticket("o-1")
    assert ticket is not None and ticket.steps == {}
