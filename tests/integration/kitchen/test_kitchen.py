"""The kitchen process on a real broker: tickets from order_confirm, presses on order_status."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kafka_restaurants.db import migrate
from kafka_restaurants.events import ORDER_CONFIRM, ORDER_STATUS, OrderStatusChanged, decode, encode
from kafka_restaurants.kitchen.access import kitchen_key
from kafka_restaurants.kitchen.app import create_app
from kafka_restaurants.settings import Settings
from tests.fixtures.components import wait_for
from tests.fixtures.kafka_io import consume_all, produce
from tests.unit.kitchen.samples import confirmed_for

SECRET = "kitchen-test-secret"

Kitchens = Callable[[int], list[TestClient]]


@pytest.fixture
def kitchens(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Kitchens]:
    """Start n kitchen instances in one fresh consumer group on one database."""
    settings = Settings(BOOTSTRAP_SVR=kafka_bootstrap, DATA_DIR=tmp_path, KITCHEN_SECRET=SECRET)  # type: ignore[call-arg]
    migrate("kitchen", settings.kitchen_db_url)
    group = f"kitchen-test-{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:

        def start(count: int) -> list[TestClient]:
            return [
                stack.enter_context(TestClient(create_app(settings, group_id=group)))
                for _ in range(count)
            ]

        yield start


def headers(restaurant_id: int) -> dict[str, str]:
    return {"X-Kitchen-Key": kitchen_key(SECRET, restaurant_id)}


def tickets(client: TestClient, restaurant_id: int) -> list[dict[str, object]]:
    response = client.get(f"/restaurants/{restaurant_id}/tickets", headers=headers(restaurant_id))
    assert response.status_code == 200, response.text
    return list(response.json()["tickets"])


def unique_restaurant() -> int:
    return 100_000 + uuid.uuid4().int % 1_000_000


def publish_confirmation(bootstrap: str, order_id: str, restaurant_id: int, **kw: bool) -> None:
    encoded = encode(confirmed_for(order_id, restaurant_id, **kw))
    produce(bootstrap, ORDER_CONFIRM, [(encoded.key, encoded.value, encoded.headers)])


def test_two_instances_and_a_replay_make_one_ticket_per_order(
    kitchens: Kitchens, kafka_bootstrap: str
) -> None:
    first, second = kitchens(2)
    restaurant = unique_restaurant()
    orders = [f"k-{uuid.uuid4().hex[:10]}" for _ in range(6)]
    for order_id in orders:
        publish_confirmation(kafka_bootstrap, order_id, restaurant)
    for order_id in orders[:3]:  # replayed: the same confirmations again
        publish_confirmation(kafka_bootstrap, order_id, restaurant)
    wait_for(lambda: len(tickets(first, restaurant)) == 6, what="six tickets")
    publish_confirmation(kafka_bootstrap, orders[0], restaurant)
    seen = tickets(second, restaurant)
    assert sorted(t["order_id"] for t in seen) == sorted(orders)
    assert seen[0]["order_id"] == orders[-1]  # newest first
    assert seen[0]["items"] == [
        {"name": "Falafel plate", "quantity": 2},
        {"name": "Lemonade", "quantity": 1},
    ]
    assert seen[0]["next_step"] == "accepted"


def test_a_press_is_an_event_on_order_status_and_moves_the_ticket(
    kitchens: Kitchens, kafka_bootstrap: str
) -> None:
    (kitchen,) = kitchens(1)
    restaurant = unique_restaurant()
    order_id = f"k-{uuid.uuid4().hex[:10]}"
    publish_confirmation(kafka_bootstrap, order_id, restaurant, delivery=True)
    wait_for(lambda: tickets(kitchen, restaurant), what="the ticket")
    url = f"/restaurants/{restaurant}/tickets/{order_id}/steps"

    early = kitchen.post(url, json={"step": "ready"}, headers=headers(restaurant))
    assert early.status_code == 409 and "ready comes after accepted" in early.text
    accepted = kitchen.post(url, json={"step": "accepted"}, headers=headers(restaurant))
    assert accepted.status_code == 202, accepted.text
    wait_for(lambda: tickets(kitchen, restaurant)[0]["step"] == "accepted", what="accepted")
    again = kitchen.post(url, json={"step": "accepted"}, headers=headers(restaurant))
    assert again.status_code == 200 and again.json()["published"] is False
    for step in ("ready", "out_for_delivery"):
        assert kitchen.post(url, json={"step": step}, headers=headers(restaurant)).is_success
        wait_for(lambda s=step: tickets(kitchen, restaurant)[0]["step"] == s, what=step)

    mine = [
        event
        for event in (
            decode(m.value(), m.headers(), OrderStatusChanged)
            for m in consume_all(kafka_bootstrap, ORDER_STATUS, expected=10**6, timeout=3)
        )
        if event.order_id == order_id
    ]
    assert [(e.step.value, e.restaurant_id) for e in mine] == [
        ("accepted", restaurant),
        ("ready", restaurant),
        ("out_for_delivery", restaurant),
    ]


def test_another_restaurant_or_no_key_cannot_open_a_kitchen(kitchens: Kitchens) -> None:
    (kitchen,) = kitchens(1)
    assert kitchen.get("/restaurants/7/tickets").status_code == 403
    assert kitchen.get("/restaurants/7/tickets", headers=headers(8)).status_code == 403
    press = kitchen.post("/restaurants/7/tickets/o-1/steps", json={"step": "accepted"})
    assert press.status_code == 403
    bad = kitchen.post(
        "/restaurants/7/tickets/o-1/steps", json={"step": "cooking"}, headers=headers(7)
    )
    assert bad.status_code == 422 and "step" in bad.text
    missing = kitchen.post(
        "/restaurants/7/tickets/nope/steps", json={"step": "accepted"}, headers=headers(7)
    )
    assert missing.status_code == 404 and "order_id" in missing.text
    wait_for(lambda: kitchen.get("/readyz").status_code == 200, what="the follower running")
