"""The bench audit counts the tickets a real kitchen API shows, on a real SQLite database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from kafka_restaurants.bench.kitchen_audit import tickets_per_order
from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.kitchen.http_api import create_kitchen_app
from kafka_restaurants.kitchen.store import KitchenStore
from kafka_restaurants.kitchen.tickets import ticket_row
from tests.unit.kitchen.samples import confirmed_for

SECRET = "audit-secret"


def test_the_audit_counts_each_orders_tickets_across_restaurants(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kitchen.sqlite'}"
    migrate("kitchen", url)
    engine = create_db_engine(url)
    store = KitchenStore(engine)
    store.record([ticket_row(confirmed_for("a", 7)), ticket_row(confirmed_for("b", 8))], [])
    app = create_kitchen_app(store, SECRET, lambda _event: True, lambda: True)

    async def count() -> dict[str, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kitchen") as client:
            return await tickets_per_order(
                client, SECRET, {"a": 7, "b": 8, "c": 8}, expected={"a", "b"}, patience=0
            )

    try:
        assert asyncio.run(count()) == {"a": 1, "b": 1, "c": 0}
    finally:
        engine.dispose()
