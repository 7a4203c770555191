"""Reconciliation against a real bank, real Kafka and the real payment service: orders whose
`order` message was dead-lettered without a result are settled by asking the bank."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from confluent_kafka import Consumer
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from kafka_restaurants.api.app import create_app
from kafka_restaurants.api.bank_client import ChargeLookup
from kafka_restaurants.api.outbox import OutboxRelay
from kafka_restaurants.api.reconciliation import Reconciler
from kafka_restaurants.api.tables import OUTBOX, Order
from kafka_restaurants.db import create_db_engine, session_factory
from kafka_restaurants.events import ORDER, ORDER_CONFIRM, OrderConfirmed, decode
from kafka_restaurants.messaging.producer import RecordPublisher
from kafka_restaurants.settings import Settings
from tests.fixtures.bank import API_KEY, AS_TRANSACTIONS
from tests.fixtures.components import wait_for
from tests.fixtures.kafka_io import consume_all, produce
from tests.integration.api.conftest import seed_small_catalog
from tests.integration.api.test_orders import order_body
from tests.integration.transactions import conftest as payments
from tests.integration.transactions.conftest import CARDS, Bank, Topics, service_config
from tests.integration.transactions.test_payment_service import RunService, declines

# The payment service's fixtures: a real bank, the test's own topics, services in threads.
bank = payments.bank
topics = payments.topics
run_service = payments.run_service


@pytest.fixture
def api_db(database_url: str) -> Iterator[str]:
    seed_small_catalog(database_url)
    yield database_url


def place(api: TestClient, card: str) -> str:
    body = order_body(
        api, card={"number": CARDS[card], "exp_month": 12, "exp_year": 2099, "cvc": "123"}
    )
    response = api.post("/orders", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["order_id"])


def publish_to(kafka_bootstrap: str, database_url: str, topic: str, published_at: datetime) -> None:
    """What the relay does, onto the test's own order topic, with the orders placed and
    published `published_at`."""
    engine = create_db_engine(database_url)
    with session_factory(engine)() as session, session.begin():
        rows = session.connection().execute(OUTBOX.select().where(OUTBOX.c.topic == ORDER)).all()
        produce(
            kafka_bootstrap,
            topic,
            [
                (
                    row.key.encode(),
                    row.payload.encode(),
                    [(n, v.encode()) for n, v in _headers(row.headers)],
                )
                for row in rows
            ],
        )
        session.connection().execute(
            update(OUTBOX).where(OUTBOX.c.topic == ORDER).values(published_at=published_at)
        )
        # As if the orders were placed then too: the reconciler only settles old ones.
        session.connection().execute(update(Order).values(created_at=published_at))
    engine.dispose()


def _headers(text: str) -> list[tuple[str, str]]:
    return [(name, value) for name, value in json.loads(text)]


def confirmation_for(bootstrap: str, order_id: str, timeout: float = 30.0) -> OrderConfirmed:
    """The OrderConfirmed for `order_id` on the shared order_confirm topic, read as the mailer
    reads it."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([ORDER_CONFIRM])
    found: list[OrderConfirmed] = []

    def arrived() -> bool:
        for message in consumer.consume(100, 0.5):
            if message.error() is None and message.key() == order_id.encode():
                headers = [(k, v) for k, v in (message.headers() or [])]
                found.append(decode(message.value(), headers, OrderConfirmed))
        return bool(found)

    try:
        wait_for(arrived, timeout=timeout, what=f"OrderConfirmed for {order_id}")
    finally:
        consumer.close()
    return found[0]


def test_orders_dead_lettered_without_a_result_are_settled_by_asking_the_bank(
    api_db: str,
    kafka_bootstrap: str,
    bank: Bank,
    topics: Topics,
    run_service: RunService,
) -> None:
    server = bank.up()
    settings = Settings.model_validate(
        {
            "DATABASE_URL": api_db,
            "BOOTSTRAP_SVR": kafka_bootstrap,
            "BANK_URL": server.url,
            "BANK_API_KEY": API_KEY,
            "API_WORKERS": "false",
        }
    )
    with TestClient(create_app(settings)) as api:
        charged, uncharged = place(api, "ok"), place(api, "ok")
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        publish_to(kafka_bootstrap, api_db, topics.orders, long_ago)
        # The bank goes away: the payment service gives up on both orders, and since the bank
        # cannot say whether it charged them either, it dead-letters them with no result.
        bank.down()
        config = service_config(kafka_bootstrap, bank.url, topics, max_attempts=2)
        run_service(config)
        dead = consume_all(kafka_bootstrap, topics.dead_letters, 2)
        assert {m.key() for m in dead} == {charged.encode(), uncharged.encode()}
        assert declines(kafka_bootstrap, topics, 0, settle=0.5) == []
        for order_id in (charged, uncharged):
            assert api.get(f"/orders/{order_id}").json()["status"] == "pending"

        # The bank is back; one order's charge went through after all (the answer was lost).
        server = bank.up()
        answer = charge_as_the_payment_service(server.url, api_db, charged)
        assert answer.status_code == 201, answer.text

        engine = create_db_engine(api_db)
        sessions = session_factory(engine)
        reconciler = Reconciler(sessions, ChargeLookup(server.url, API_KEY), older_than=60)
        try:
            assert reconciler.reconcile_once() == {"confirmed": 1, "failed": 1}
            assert reconciler.reconcile_once() == {}  # nothing left: settling is idempotent
        finally:
            reconciler.bank.close()

        confirmed = api.get(f"/orders/{charged}").json()
        assert confirmed["status"] == "confirmed"
        failed = api.get(f"/orders/{uncharged}").json()
        assert failed["status"] == "failed"
        assert failed["decline_reason"] == "We couldn't process your payment. You were not charged."
        assert server.charges(uncharged) == []
        # The payment service, lagging past the threshold, charges the failed order after all:
        # the reconciler voided its token first, so the bank declines and nothing is taken.
        late = charge_as_the_payment_service(server.url, api_db, uncharged)
        assert (late.json()["status"], late.json()["decline_code"]) == ("declined", "token_used")
        assert [c["status"] for c in server.charges(uncharged)] == ["declined"]

        relay = OutboxRelay(sessions, RecordPublisher(kafka_bootstrap))
        relay.relay_once()
        event = confirmation_for(kafka_bootstrap, charged)
        [charge] = server.charges(charged)
        assert event.charge_id == charge["charge_id"]
        assert event.order.customer.email == "dana@example.com"

        fresh = place(api, "ok")  # pending for less than the threshold: left alone
        reconciler = Reconciler(sessions, ChargeLookup(server.url, API_KEY), older_than=60)
        try:
            assert reconciler.reconcile_once() == {}
        finally:
            reconciler.bank.close()
        assert api.get(f"/orders/{fresh}").json()["status"] == "pending"
        engine.dispose()


def charge_as_the_payment_service(
    bank_url: str, database_url: str, order_id: str
) -> httpx.Response:
    """POST the order's charge to the bank as the payment service would."""
    token, amount, currency = _charge_of(database_url, order_id)
    return httpx.post(
        f"{bank_url}/v1/charges",
        json={"token": token, "amount": amount, "currency": currency, "reference": order_id},
        headers={**AS_TRANSACTIONS, "Idempotency-Key": order_id},
        timeout=10,
    )


def _charge_of(database_url: str, order_id: str) -> tuple[str, int, str]:
    """The token, total and currency the payment service would charge for the order."""
    engine = create_db_engine(database_url)
    query = select(Order.payment_token, Order.total_minor, Order.currency).where(
        Order.id == order_id
    )
    with session_factory(engine)() as session:
        token, amount, currency = session.execute(query).one()
    engine.dispose()
    return str(token), int(amount), str(currency)


def test_the_api_runs_the_reconciler_as_a_supervised_worker(
    api_db: str, kafka_bootstrap: str, bank: Bank, topics: Topics
) -> None:
    server = bank.up()
    values = {
        "DATABASE_URL": api_db,
        "BOOTSTRAP_SVR": kafka_bootstrap,
        "BANK_URL": server.url,
        "BANK_API_KEY": API_KEY,
        "API_WORKERS": "false",
        "RECONCILE_AFTER_SECONDS": "60",
        "RECONCILE_INTERVAL_SECONDS": "0.2",
    }
    with TestClient(create_app(Settings.model_validate(values))) as api:
        order_id = place(api, "ok")
    # Its event went out an hour ago and nothing came back (say it was dead-lettered).
    publish_to(kafka_bootstrap, api_db, topics.orders, datetime.now(UTC) - timedelta(hours=1))
    with TestClient(create_app(Settings.model_validate({**values, "API_WORKERS": "true"}))) as api:
        wait_for(
            lambda: api.get(f"/orders/{order_id}").json()["status"] == "failed",
            what="the reconciler to settle the order",
        )
        assert api.get("/healthz").json()["workers"]["reconciler"] == "running"
    assert server.charges(order_id) == []
