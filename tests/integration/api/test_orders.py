"""POST /orders and GET /orders/{id}: real database (both kinds), real bank, real Kafka."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Message
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from kafka_restaurants.api.app import create_app
from kafka_restaurants.api.tables import Order, OrderLineRow, OutboxRecord
from kafka_restaurants.bank.app import create_app as create_bank_app
from kafka_restaurants.db import create_db_engine, migrate, session_factory
from kafka_restaurants.events import (
    ORDER,
    ORDER_CONFIRM,
    ORDER_DECLINED,
    OrderConfirmed,
    OrderDeclined,
    OrderPlaced,
    dead_letter_topic,
    encode,
)
from kafka_restaurants.settings import Settings
from tests.fixtures.bank import API_KEY, AS_TRANSACTIONS, BANK_KEYS
from tests.fixtures.components import wait_for
from tests.fixtures.kafka_io import consume_all, produce
from tests.fixtures.servers import UvicornThread
from tests.integration.api.conftest import seed_small_catalog

GOOD_CARD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('bank')}/bank.sqlite"
    migrate("bank", url)
    server = UvicornThread(
        create_bank_app(Settings.model_validate({"BANK_DATABASE_URL": url, **BANK_KEYS}))
    )
    yield server.start().url
    server.stop()


@pytest.fixture
def api(database_url: str, bank: str, kafka_bootstrap: str) -> Iterator[TestClient]:
    seed_small_catalog(database_url)
    settings = Settings.model_validate(
        {
            "DATABASE_URL": database_url,
            "BOOTSTRAP_SVR": kafka_bootstrap,
            "BANK_URL": bank,
            "BANK_API_KEY": API_KEY,
            # One test client places many orders: the per-client limit (tested on its own in
            # test_admission.py) counts every attempt, a refused bad body included.
            "API_ORDER_RATE_PER_CLIENT": "0",
        }
    )
    with TestClient(create_app(settings)) as client:
        client.database_url = database_url  # type: ignore[attr-defined]
        yield client


def restaurant(api: TestClient, name: str) -> dict[str, Any]:
    [summary] = api.get("/search", params={"restaurant_name": name}).json()
    return dict(api.get(f"/restaurants/{summary['id']}").json())


def order_body(api: TestClient, **overrides: Any) -> dict[str, Any]:
    place = restaurant(api, "Amore Mio")
    body: dict[str, Any] = {
        "restaurant_id": place["id"],
        "items": [{"menu_item_id": place["menu"][0]["id"], "quantity": 2}],
        "email": "dana@example.com",
        "name": "Dana Levi",
        "delivery_address": "Dizengoff 100, Tel Aviv",
        "card": dict(GOOD_CARD),
    }
    body.update(overrides)
    return body


def counts(url: str) -> tuple[int, int, int]:
    engine = create_db_engine(url)
    with session_factory(engine)() as session:
        result = tuple(
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Order, OrderLineRow, OutboxRecord)
        )
    engine.dispose()
    return result  # type: ignore[return-value]


def test_order_is_accepted_priced_and_published(api: TestClient, kafka_bootstrap: str) -> None:
    response = api.post("/orders", json=order_body(api))
    assert response.status_code == 202, response.text
    accepted = response.json()
    order_id = accepted["order_id"]
    assert accepted["status"] == "pending"
    assert accepted["total_minor"] == 2 * 4000
    assert response.headers["Location"] == f"/orders/{order_id}"

    published = [
        m
        for m in consume_all(kafka_bootstrap, ORDER, expected=10_000, timeout=5)
        if m.key() == order_id.encode()
    ]
    assert len(published) == 1
    event = OrderPlaced.model_validate_json(published[0].value())
    assert event.order.total_minor == 8000
    assert event.order.delivery.address == "Dizengoff 100, Tel Aviv"
    assert event.payment.last4 == "4242" and event.payment.brand == "visa"
    assert b"4242424242424242" not in published[0].value()
    headers = dict(published[0].headers() or [])
    assert headers["event_type"] == b"OrderPlaced"

    details = api.get(f"/orders/{order_id}").json()
    assert details["status"] == "pending"
    assert details["items"][0]["quantity"] == 2
    assert details["card"] == {"brand": "visa", "last4": "4242"}
    assert [entry["event"] for entry in details["timeline"]] == ["placed"]


def test_payment_results_settle_the_order(api: TestClient, kafka_bootstrap: str) -> None:
    confirmed_id = api.post("/orders", json=order_body(api)).json()["order_id"]
    declined_id = api.post("/orders", json=order_body(api)).json()["order_id"]
    placed = {
        m.key().decode(): OrderPlaced.model_validate_json(m.value())
        for m in consume_all(kafka_bootstrap, ORDER, expected=10_000, timeout=5)
    }
    confirmed = OrderConfirmed(
        order_id=confirmed_id, order=placed[confirmed_id].order, charge_id="ch_test"
    )
    declined = OrderDeclined(
        order_id=declined_id, decline_code="card_declined", reason="The card was declined."
    )
    for topic, event in ((ORDER_CONFIRM, confirmed), (ORDER_DECLINED, declined)):
        encoded = encode(event)
        # Delivered twice: the second copy must change nothing.
        produce(kafka_bootstrap, topic, [(encoded.key, encoded.value, encoded.headers)] * 2)

    wait_for(lambda: api.get(f"/orders/{confirmed_id}").json()["status"] == "confirmed")
    wait_for(lambda: api.get(f"/orders/{declined_id}").json()["status"] == "declined")
    ok = api.get(f"/orders/{confirmed_id}").json()
    assert [e["event"] for e in ok["timeline"]] == ["placed", "paid"]
    no = api.get(f"/orders/{declined_id}").json()
    assert (no["decline_code"], no["decline_reason"]) == ("card_declined", "The card was declined.")
    assert [e["event"] for e in no["timeline"]] == ["placed", "declined"]


def test_a_payment_result_for_an_unknown_order_is_dead_lettered(
    api: TestClient, kafka_bootstrap: str
) -> None:
    stray_id = str(uuid.uuid4())
    stray = OrderDeclined(order_id=stray_id, decline_code="card_declined", reason="No.")
    encoded = encode(stray)
    produce(kafka_bootstrap, ORDER_DECLINED, [(encoded.key, encoded.value, encoded.headers)])

    def dead_letter() -> Message | None:
        dead = consume_all(kafka_bootstrap, dead_letter_topic(ORDER_DECLINED), 10**6, timeout=2)
        return next((m for m in dead if m.key() == stray_id.encode()), None)

    found = wait_for(dead_letter, what="the stray result in order_declined.DLQ")
    assert isinstance(found, Message)
    headers = {k: v.decode() for k, v in found.headers() or [] if v is not None}
    assert headers["dlq.error"] == f"unknown order {stray_id}: the api has no order with this id"
    assert headers["dlq.consumer_group"] == "api-order-status"
    assert found.value() == encoded.value
    # The consumer went on: a real order still settles.
    order_id = api.post("/orders", json=order_body(api)).json()["order_id"]
    declined = encode(OrderDeclined(order_id=order_id, decline_code="card_declined", reason="No."))
    produce(kafka_bootstrap, ORDER_DECLINED, [(declined.key, declined.value, declined.headers)])
    wait_for(lambda: api.get(f"/orders/{order_id}").json()["status"] == "declined")


def test_same_idempotency_key_places_one_order(api: TestClient) -> None:
    body = order_body(api)
    first = api.post("/orders", json=body, headers={"Idempotency-Key": "checkout-123"})
    second = api.post("/orders", json=body, headers={"Idempotency-Key": "checkout-123"})
    assert first.status_code == second.status_code == 202
    assert first.json()["order_id"] == second.json()["order_id"]
    assert counts(api.database_url)[0] == 1  # type: ignore[attr-defined]


def _bad_orders(api: TestClient) -> list[tuple[dict[str, Any], list[Any]]]:
    amore = restaurant(api, "Amore Mio")
    shawarma = restaurant(api, "Shawarma")  # no delivery
    item = amore["menu"][0]["id"]
    foreign = shawarma["menu"][0]["id"]
    good = order_body(api)
    card = dict(GOOD_CARD)
    return [
        ({**good, "restaurant_id": 999999}, ["body", "restaurant_id"]),
        (
            {**good, "items": [{"menu_item_id": foreign, "quantity": 1}]},
            ["body", "items", 0, "menu_item_id"],
        ),
        (
            {**good, "items": [{"menu_item_id": item, "quantity": 0}]},
            ["body", "items", 0, "quantity"],
        ),
        (
            {**good, "items": [{"menu_item_id": item, "quantity": 51}]},
            ["body", "items", 0, "quantity"],
        ),
        ({**good, "items": []}, ["body", "items"]),
        ({**good, "items": [{"menu_item_id": item, "quantity": 1}] * 51}, ["body", "items"]),
        ({**good, "email": "not-an-email"}, ["body", "email"]),
        ({**good, "name": "  "}, ["body", "name"]),
        (
            {
                **good,
                "restaurant_id": shawarma["id"],
                "items": [{"menu_item_id": foreign, "quantity": 1}],
            },
            ["body", "delivery_address"],
        ),
        (
            {**good, "delivery_address": None, "fulfilment": "delivery"},
            ["body", "delivery_address"],
        ),
        ({**good, "card": {**card, "number": "4242424242424241"}}, ["body", "card", "number"]),
        ({**good, "card": {**card, "exp_year": 2020}}, ["body", "card", "exp_year"]),
        ({**good, "card": {**card, "cvc": "12"}}, ["body", "card", "cvc"]),
        ({**good, "card": {**card, "exp_month": 13}}, ["body", "card", "exp_month"]),
    ]


def test_bad_input_names_the_field_and_writes_nothing(api: TestClient) -> None:
    for body, loc in _bad_orders(api):
        response = api.post("/orders", json=body)
        assert response.status_code == 422, (loc, response.text)
        locs = [error["loc"] for error in response.json()["detail"]]
        assert loc in locs, (loc, response.json())
        assert all(error["msg"] for error in response.json()["detail"])
        assert "4242424242424241" not in response.text
    assert counts(api.database_url) == (0, 0, 0)  # type: ignore[attr-defined]


def test_sold_out_item_is_refused(api: TestClient) -> None:
    engine = create_db_engine(api.database_url)  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(text("UPDATE menu_items SET available = false"))
    engine.dispose()
    response = api.post("/orders", json=order_body(api))
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "items", 0, "menu_item_id"]
    assert "sold out" in error["msg"]


def test_unknown_order_is_404_and_bad_id_is_422(api: TestClient) -> None:
    assert api.get("/orders/7d1c2f7e-0000-4000-8000-000000000000").status_code == 404
    bad = api.get("/orders/not-a-uuid")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["path", "order_id"]


def test_card_never_reaches_the_database(api: TestClient, tmp_path: Path) -> None:
    assert api.post("/orders", json=order_body(api)).status_code == 202
    engine = create_db_engine(api.database_url)  # type: ignore[attr-defined]
    with engine.connect() as conn:
        dump = json.dumps(
            [
                [list(map(str, row)) for row in conn.execute(text(f"SELECT * FROM {table}"))]
                for table in ("orders", "order_lines", "outbox", "order_timeline")
            ]
        )
    engine.dispose()
    assert "4242424242424242" not in dump and "4242 4242" not in dump
    assert '"123"' not in dump  # the CVC


def test_the_orders_token_pays_that_order_only_up_to_its_total(api: TestClient, bank: str) -> None:
    order_id = api.post("/orders", json=order_body(api)).json()["order_id"]
    engine = create_db_engine(api.database_url)  # type: ignore[attr-defined]
    with session_factory(engine)() as session:
        token = session.scalar(select(Order.payment_token).where(Order.id == order_id))
    engine.dispose()

    def charge(key: str, reference: str, amount: int) -> tuple[str, str | None]:
        body = {"token": token, "amount": amount, "currency": "ILS", "reference": reference}
        response = httpx.post(
            f"{bank}/v1/charges",
            json=body,
            headers={**AS_TRANSACTIONS, "Idempotency-Key": key},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return response.json()["status"], response.json()["decline_code"]

    # (Keys of their own: the bank lives as long as the module, across database parameters.)
    mismatch = charge(f"{order_id}-other", "another-order", 8000)
    assert mismatch == ("declined", "token_reference_mismatch")
    assert charge(f"{order_id}-more", order_id, 8001) == ("declined", "amount_over_token_limit")
    assert charge(order_id, order_id, 8000) == ("succeeded", None)
    assert charge(f"{order_id}-again", order_id, 8000) == ("declined", "token_used")
