"""Checkout through the web against a real api (and bank) that is too busy, or rate-limits the
browser: the page says so in plain words and a retry places exactly one order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from kafka_restaurants.api.app import create_app as create_api_app
from kafka_restaurants.api.seed import seed_catalog
from kafka_restaurants.api.tables import Order, OutboxRecord
from kafka_restaurants.bank.app import create_app as create_bank_app
from kafka_restaurants.db import create_db_engine, migrate, session_factory
from kafka_restaurants.settings import Settings
from kafka_restaurants.web.app import create_app as create_web_app
from tests.fixtures.bank import API_KEY, BANK_KEYS
from tests.fixtures.components import free_port, wait_for
from tests.integration.web.conftest import RunningServer, start_server
from tests.integration.web.test_web_with_api import checkout_form, fill_cart

BUSY = "We&#39;re very busy. Your card was not charged; try again in a few seconds."


@dataclass
class Api:
    url: str
    app: FastAPI
    database_url: str

    def orders_with_key(self, key: str) -> int:
        return self._count(
            select(func.count()).select_from(Order).where(Order.idempotency_key == key)
        )

    def orders(self) -> int:
        return self._count(select(func.count()).select_from(Order))

    def publish_outbox(self) -> None:
        """What the relay does once Kafka takes the events: the backlog is gone."""
        engine = create_db_engine(self.database_url)
        with engine.begin() as connection:
            connection.execute(update(OutboxRecord).values(published_at=func.now()))
        engine.dispose()

    def _count(self, query: Any) -> int:
        engine = create_db_engine(self.database_url)
        with session_factory(engine)() as session:
            count = int(session.scalar(query) or 0)
        engine.dispose()
        return count


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('bank')}/bank.sqlite"
    migrate("bank", url)
    server = start_server(
        create_bank_app(Settings.model_validate({"BANK_DATABASE_URL": url, **BANK_KEYS})),
        free_port(),
    )
    yield server.url
    server.stop()


@pytest.fixture
def start_api(bank: str, tmp_path: Path) -> Iterator[Any]:
    servers: list[RunningServer] = []

    def start(**overrides: str) -> Api:
        database_url = f"sqlite:///{tmp_path}/api-{len(servers)}.sqlite"
        migrate("api", database_url)
        seed_catalog(database_url)
        settings = Settings.model_validate(
            {
                "DATABASE_URL": database_url,
                "BOOTSTRAP_SVR": "127.0.0.1:1",
                "API_WORKERS": "false",  # no relay: the outbox backlog stays until we clear it
                "BANK_URL": bank,
                "BANK_API_KEY": API_KEY,
                **overrides,
            }
        )
        app = create_api_app(settings)
        server = start_server(app, free_port())
        servers.append(server)
        return Api(server.url, app, database_url)

    yield start
    for server in servers:
        server.stop()


def web_for(api: Api, data_dir: Path) -> TestClient:
    settings = Settings.model_validate({"API_URL": api.url, "DATA_DIR": str(data_dir)})
    return TestClient(create_web_app(settings, replica_name="web-it"), follow_redirects=False)


def token_of(html: str) -> str:
    match = re.search(r'name="checkout_token" value="([0-9a-f]{32})"', html)
    assert match, "no checkout token on the page"
    return match.group(1)


def test_a_busy_api_is_said_plainly_and_the_retry_is_one_order(
    start_api: Any, tmp_path: Path
) -> None:
    api = start_api(API_MAX_OUTBOX_BACKLOG="1")
    with web_for(api, tmp_path) as web:
        # An earlier order is waiting for Kafka: the outbox is at its threshold.
        assert web.post("/checkout", data=checkout_form(fill_cart(web))).status_code == 303
        sampler = api.app.state.outbox_backlog
        wait_for(lambda: sampler.value() == 1, what="the api to count the backlog")

        data = checkout_form(fill_cart(web))
        for _ in range(2):  # the first try and an impatient second one
            busy = web.post("/checkout", data=data)
            assert busy.status_code == 503, busy.text
            assert BUSY in busy.text
            assert int(busy.headers["Retry-After"]) >= 1
            assert token_of(busy.text) == data["checkout_token"]
            assert 'value="Dana Levi"' in busy.text and "4242424242424242" not in busy.text
            assert "Sabich" in busy.text  # the cart is still there
        assert api.orders_with_key(data["checkout_token"]) == 0

        api.publish_outbox()
        wait_for(lambda: sampler.value() == 0, what="the api to see the backlog drained")
        placed = web.post("/checkout", data=data)
        assert placed.status_code == 303, placed.text
        assert web.post("/checkout", data=data).headers["location"] == placed.headers["location"]
        assert api.orders_with_key(data["checkout_token"]) == 1
        assert api.orders() == 2


def test_a_browser_ordering_too_fast_is_told_to_wait_by_the_api(
    start_api: Any, tmp_path: Path
) -> None:
    api = start_api(API_ORDER_RATE_PER_CLIENT="0.001", API_ORDER_BURST_PER_CLIENT="1")
    with web_for(api, tmp_path) as web:
        assert web.post("/checkout", data=checkout_form(fill_cart(web))).status_code == 303
        data = checkout_form(fill_cart(web))
        limited = web.post("/checkout", data=data)
        assert limited.status_code == 429, limited.text
        assert BUSY in limited.text
        assert token_of(limited.text) == data["checkout_token"]
        assert api.orders() == 1
    # The api keyed the limit on the browser the web forwarded, not on the web replica: our own
    # tooling on the same address, forwarding nobody, still orders.
    menu = httpx.get(f"{api.url}/restaurants/1", timeout=30).json()["menu"]
    body = {
        "restaurant_id": 1,
        "items": [{"menu_item_id": menu[0]["id"], "quantity": 1}],
        "email": "ops@example.com",
        "name": "Ops",
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    }
    direct = httpx.post(f"{api.url}/orders", json=body, timeout=30)
    assert direct.status_code == 202, direct.text
