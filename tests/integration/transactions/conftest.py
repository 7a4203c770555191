"""A real bank (uvicorn in a thread, own SQLite file), fresh topics, and the payment service."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from kafka_restaurants.bank.app import create_app
from kafka_restaurants.db import migrate
from kafka_restaurants.events import OrderPlaced, encode
from kafka_restaurants.localbroker.broker import ensure_topics
from kafka_restaurants.messaging.service import ConsumerProcess
from kafka_restaurants.settings import Settings
from kafka_restaurants.transactions.app import TransactionsConfig, order_reader, payment_service
from kafka_restaurants.transactions.charging import OutputTopics
from tests.fixtures.bank import AS_API, AS_OPERATOR, BANK_KEYS, TRANSACTIONS_KEY
from tests.fixtures.components import free_port, wait_for
from tests.fixtures.kafka_io import produce

CARDS = {
    "ok": "4242424242424242",
    "declined": "4000000000000002",
    "insufficient": "4000000000009995",
    "flaky": "4000000000000119",
}


class BankServer:
    """The bank app on 127.0.0.1:`port` over `db_url`, served by uvicorn in a thread."""

    def __init__(self, db_url: str, port: int, data_dir: Path, **overrides: Any) -> None:
        values: dict[str, Any] = {
            "HOST": "127.0.0.1",
            "BANK_PORT": port,
            "BANK_DATABASE_URL": db_url,
            "DATA_DIR": str(data_dir),
            "BANK_LATENCY_MS": 0,
            "BANK_ERROR_RATE": 0.0,
            "BANK_TIMEOUT_RATE": 0.0,
            "BANK_TRANSIENT_FAILURES": 2,
            **BANK_KEYS,
            **overrides,
        }
        settings = Settings(_env_file=None, **values)
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> BankServer:
        self._thread.start()
        wait_for(
            lambda: httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200,
            what="bank /healthz",
        )
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(15)
            assert not self._thread.is_alive(), "bank server did not stop"

    def token(self, card: str, reference: str, max_amount: int, currency: str = "EUR") -> str:
        """A token for one of the test cards and one order, through the bank's real
        POST /v1/tokens, as the api asks for it."""
        response = httpx.post(
            f"{self.url}/v1/tokens",
            json={
                "number": CARDS[card],
                "exp_month": 12,
                "exp_year": 2099,
                "cvc": "123",
                "reference": reference,
                "max_amount": max_amount,
                "currency": currency,
            },
            headers=AS_API,
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def charges(self, reference: str) -> list[dict[str, Any]]:
        """The bank's charges for one order."""
        response = httpx.get(
            f"{self.url}/v1/charges",
            params={"reference": reference},
            headers=AS_OPERATOR,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return list(response.json()["charges"])


@dataclass
class Bank:
    """Start/stop a bank on a fixed port and database, so it can go down and come back."""

    db_url: str
    port: int
    data_dir: Path
    server: BankServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self, **overrides: Any) -> BankServer:
        assert self.server is None, "bank already up"
        self.server = BankServer(self.db_url, self.port, self.data_dir, **overrides).start()
        return self.server

    def down(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    """A bank (not started) with its own migrated SQLite file and a free port."""
    db_url = f"sqlite:///{tmp_path / 'bank.sqlite'}"
    migrate("bank", db_url)
    bank = Bank(db_url, free_port(), tmp_path)
    yield bank
    bank.down()


@dataclass(frozen=True)
class Topics:
    """A test's own order topic (and its DLQ) and output topics."""

    orders: str
    confirmed: str
    declined: str

    @property
    def dead_letters(self) -> str:
        return f"{self.orders}.DLQ"

    @property
    def outputs(self) -> OutputTopics:
        return OutputTopics(confirmed=self.confirmed, declined=self.declined)


@pytest.fixture
def topics(kafka_bootstrap: str) -> Topics:
    base = f"tx-{uuid.uuid4().hex[:10]}"
    found = Topics(f"{base}-order", f"{base}-confirm", f"{base}-declined")
    ensure_topics(
        kafka_bootstrap,
        {found.orders: 3, found.dead_letters: 1, found.confirmed: 1, found.declined: 1},
    )
    return found


def service_config(
    bootstrap: str, bank_url: str, topics: Topics, max_attempts: int = 1000, **changes: Any
) -> TransactionsConfig:
    """A configuration on the test's own topics and group, with short retry backoffs and
    retries effectively unbounded unless a test is about the limit."""
    reading = replace(
        order_reader(bootstrap, f"tx-test-{uuid.uuid4().hex[:8]}", topics.orders),
        backoff_base=0.05,
        backoff_cap=0.5,
        max_attempts=max_attempts,
    )
    values: dict[str, Any] = {
        "reading": reading,
        "bank_url": bank_url,
        "bank_api_key": TRANSACTIONS_KEY,
        "outputs": topics.outputs,
        **changes,
    }
    return TransactionsConfig(**values)


@pytest.fixture
def run_service() -> Iterator[Callable[[TransactionsConfig], ConsumerProcess]]:
    """Start payment services in threads; each is stopped (and must stop) after the test."""
    started: list[tuple[ConsumerProcess, threading.Thread]] = []

    def start(config: TransactionsConfig) -> ConsumerProcess:
        service = ConsumerProcess(payment_service(config))
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        started.append((service, thread))
        wait_for(lambda: service.running, what="payment service running")
        return service

    yield start
    for service, thread in started:
        service.stop()
        thread.join(30)
        assert not thread.is_alive(), "payment service did not stop"


def produce_orders(bootstrap: str, topic: str, orders: list[OrderPlaced]) -> None:
    """Produce orders as the api's relay does: key = order id, event headers."""
    records = []
    for order in orders:
        encoded = encode(order)
        records.append((encoded.key, encoded.value, encoded.headers))
    produce(bootstrap, topic, records)  # type: ignore[arg-type]
