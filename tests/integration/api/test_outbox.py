"""The outbox relay: nothing lost while Kafka is down, nothing published twice by two relays."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from kafka_restaurants.api.app import create_app
from kafka_restaurants.api.outbox import OutboxRelay
from kafka_restaurants.api.tables import OutboxRecord
from kafka_restaurants.bank.app import create_app as create_bank_app
from kafka_restaurants.db import create_db_engine, migrate, session_factory
from kafka_restaurants.events import ORDER
from kafka_restaurants.localbroker.broker import KafkaBroker, create_topics, ensure_topics
from kafka_restaurants.messaging.producer import RecordPublisher
from kafka_restaurants.settings import Settings
from tests.fixtures.bank import API_KEY, BANK_KEYS
from tests.fixtures.components import wait_for
from tests.fixtures.kafka import distinct_free_ports, kafka_libs_or_skip
from tests.fixtures.kafka_io import consume_all
from tests.fixtures.servers import UvicornThread
from tests.integration.api.conftest import seed_small_catalog
from tests.integration.api.test_orders import order_body


def test_two_relays_publish_each_row_exactly_once(database_url: str, kafka_bootstrap: str) -> None:
    topic = f"outbox-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_bootstrap, {topic: 3})
    migrate("api", database_url)
    engine = create_db_engine(database_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        session.add_all(
            OutboxRecord(
                topic=topic,
                key=f"k{i}",
                payload=f'{{"n": {i}}}',
                headers="[]",
                created_at=now,
                attempts=0,
            )
            for i in range(400)
        )
    relays = [
        OutboxRelay(sessions, RecordPublisher(kafka_bootstrap), batch_size=25) for _ in range(2)
    ]
    threads = [threading.Thread(target=relay.relay_once) for relay in relays for _ in range(1)]
    for relay in relays:
        relay.start()
    try:
        wait_for(lambda: relays[0].backlog() == 0, timeout=60, what="outbox drained")
    finally:
        for relay in relays:
            relay.stop()
    del threads
    published = consume_all(kafka_bootstrap, topic, expected=400, settle=1.0)
    keys = Counter(m.key().decode() for m in published)
    assert len(keys) == 400
    assert max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]
    engine.dispose()


def test_orders_accepted_while_kafka_is_down_are_published_when_it_returns(
    tmp_path: Path,
) -> None:
    lib_dir = kafka_libs_or_skip()
    port, controller_port = distinct_free_ports(2)
    bootstrap = f"127.0.0.1:{port}"
    db_url = f"sqlite:///{tmp_path}/api.sqlite"
    bank_url = f"sqlite:///{tmp_path}/bank.sqlite"
    seed_small_catalog(db_url)
    migrate("bank", bank_url)
    bank = UvicornThread(
        create_bank_app(Settings.model_validate({"BANK_DATABASE_URL": bank_url, **BANK_KEYS}))
    )
    bank.start()
    settings = Settings.model_validate(
        {
            "DATABASE_URL": db_url,
            "BOOTSTRAP_SVR": bootstrap,
            "BANK_URL": bank.url,
            "BANK_API_KEY": API_KEY,
        }
    )
    broker = KafkaBroker(
        data_dir=tmp_path, port=port, controller_port=controller_port, lib_dir=lib_dir
    )
    try:
        with TestClient(create_app(settings)) as api:
            order_ids = []
            for _ in range(5):
                response = api.post("/orders", json=order_body(api))
                assert response.status_code == 202, response.text
                order_ids.append(response.json()["order_id"])
            assert api.app.state.relay.backlog() == 5  # type: ignore[attr-defined]

            broker.start(tmp_path / "kafka.log")
            broker.wait_until_ready(120)
            create_topics(bootstrap, 6, 3)
            wait_for(
                lambda: api.app.state.relay.backlog() == 0,  # type: ignore[attr-defined]
                timeout=90,
                what="outbox published after Kafka came back",
            )
            published = consume_all(bootstrap, ORDER, expected=5, settle=1.0)
            assert sorted(m.key().decode() for m in published) == sorted(order_ids)
    finally:
        broker.stop()
        bank.stop()
