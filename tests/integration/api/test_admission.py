"""POST /orders under overload, with reused Idempotency-Keys and too-eager clients: a real api
app on SQLite and PostgreSQL; a counting stand-in for the bank shows who reached it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kafka_restaurants.api.app import create_app
from kafka_restaurants.api.bank_client import CardDetails, PaymentToken
from kafka_restaurants.api.errors import PaymentServiceUnavailable
from kafka_restaurants.api.tables import Order, OutboxRecord, Restaurant
from kafka_restaurants.db import create_db_engine, session_factory
from kafka_restaurants.settings import Settings
from tests.fixtures.components import free_port, wait_for
from tests.integration.api.conftest import seed_small_catalog

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


class CountingBank:
    """Tokenizes like the bank and counts calls; `hold` keeps callers inside until released."""

    def __init__(self, hold: bool = False, together: int = 0, down: bool = False) -> None:
        self.calls = 0
        self.down = down
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self._together = threading.Barrier(together) if together else None
        self._lock = threading.Lock()

    def tokenize(
        self, card: CardDetails, reference: str, max_amount: int, currency: str
    ) -> PaymentToken:
        with self._lock:
            self.calls += 1
        self.entered.set()
        if self.down:
            raise PaymentServiceUnavailable("bank answered 503")
        if self._together is not None:
            self._together.wait(10)  # everyone is past the idempotency lookup at once
        assert self.release.wait(30), "the test never released the bank"
        return PaymentToken(token=f"tok_{self.calls}", brand="visa", last4=card.number[-4:])

    def close(self) -> None:
        """The app closes its bank client on shutdown."""


def settings(database_url: str, **overrides: Any) -> Settings:
    values = {
        "DATABASE_URL": database_url,
        "BOOTSTRAP_SVR": "127.0.0.1:1",  # no Kafka: the outbox only grows
        "API_WORKERS": "false",
        "API_ORDER_RATE_PER_CLIENT": "0",
        **overrides,
    }
    return Settings.model_validate(values)


def order_body(database_url: str, quantity: int = 1, card: dict[str, Any] | None = None) -> Any:
    engine = create_db_engine(database_url)
    with session_factory(engine)() as session:
        place = session.scalars(select(Restaurant).where(Restaurant.name == "Amore Mio")).one()
        item_id = place.menu[0].id
    engine.dispose()
    return {
        "restaurant_id": place.id,
        "items": [{"menu_item_id": item_id, "quantity": quantity}],
        "email": "dana@example.com",
        "name": "Dana Levi",
        "delivery_address": "Dizengoff 100, Tel Aviv",
        "card": card or dict(CARD),
    }


def written(database_url: str) -> tuple[int, int]:
    """(orders, outbox rows) in the database."""
    engine = create_db_engine(database_url)
    with session_factory(engine)() as session:
        counts = (
            session.scalar(select(func.count()).select_from(Order)) or 0,
            session.scalar(select(func.count()).select_from(OutboxRecord)) or 0,
        )
    engine.dispose()
    return counts


ApiFactory = Callable[..., tuple[TestClient, CountingBank]]


@pytest.fixture
def make_api(database_url: str) -> Iterator[ApiFactory]:
    """Starts the api with settings overrides and a CountingBank in place of the bank client."""
    seed_small_catalog(database_url)
    clients: list[TestClient] = []

    def make(bank: CountingBank | None = None, **overrides: Any) -> tuple[TestClient, CountingBank]:
        client = TestClient(create_app(settings(database_url, **overrides)))
        client.__enter__()
        clients.append(client)
        bank = bank or CountingBank()
        client.app.state.card_tokens = bank  # type: ignore[attr-defined]
        return client, bank

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_a_refused_order_is_refused_before_its_body_is_read(
    make_api: ApiFactory, database_url: str
) -> None:
    # Refusing must cost less than placing: no body read, no validation, no routing. A body
    # the api would answer 422 for shows which came first.
    api, bank = make_api(CountingBank(hold=True), API_MAX_ORDERS_IN_FLIGHT="1")
    body = order_body(database_url)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(api.post, "/orders", json=body)
        assert bank.entered.wait(30), "the first order never reached the bank"
        refused = api.post("/orders", content=b"{not json", headers={"content-type": "x/y"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["reason"] == "in_flight"
        bank.release.set()
        assert first.result(30).status_code == 202
    # With room again, the same body is read and refused for what it is.
    unreadable = api.post("/orders", content=b"{not json", headers={"content-type": "x/y"})
    assert unreadable.status_code in (400, 422), unreadable.text


def test_too_many_orders_in_flight_get_503_and_nothing_is_written(
    make_api: ApiFactory, database_url: str
) -> None:
    api, bank = make_api(CountingBank(hold=True), API_MAX_ORDERS_IN_FLIGHT="1")
    body = order_body(database_url)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(api.post, "/orders", json=body, headers={"Idempotency-Key": "k-1"})
        assert bank.entered.wait(30), "the first order never reached the bank"
        refused = api.post("/orders", json=body, headers={"Idempotency-Key": "k-2"})
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "1"
        assert refused.json()["retry_after_ms"] == 1000
        assert refused.json()["reason"] == "in_flight"
        assert "busy" in refused.json()["detail"]
        assert bank.calls == 1  # the refused order never reached the bank
        assert written(database_url) == (0, 0)
        bank.release.set()
        assert first.result(30).status_code == 202
    # The first order is answered: the next one is taken again.
    again = api.post("/orders", json=body, headers={"Idempotency-Key": "k-2"})
    assert again.status_code == 202, again.text
    assert written(database_url) == (2, 2)
    metrics = api.get("/metrics").text
    assert 'api_orders_refused_total{reason="in_flight"}' in metrics


def test_an_outbox_backlog_over_the_threshold_gets_503_for_longer(
    make_api: ApiFactory, database_url: str
) -> None:
    api, bank = make_api(API_MAX_OUTBOX_BACKLOG="2", API_BUSY_RETRY_AFTER_MS="1500")
    for quantity in (1, 2):
        assert api.post("/orders", json=order_body(database_url, quantity)).status_code == 202
    sampler = api.app.state.outbox_backlog  # type: ignore[attr-defined]
    wait_for(lambda: sampler.value() == 2, what="the backlog sampler to count 2 rows")
    refused = api.post("/orders", json=order_body(database_url, 3))
    assert refused.status_code == 503, refused.text
    assert refused.json()["reason"] == "outbox_backlog"
    assert refused.json()["retry_after_ms"] == 7500
    assert refused.headers["Retry-After"] == "8"
    assert bank.calls == 2
    assert written(database_url) == (2, 2)


def test_a_bank_that_cannot_tokenize_is_a_503_of_the_same_shape(
    make_api: ApiFactory, database_url: str
) -> None:
    api, _ = make_api(CountingBank(down=True))
    refused = api.post("/orders", json=order_body(database_url))
    assert refused.status_code == 503, refused.text
    assert refused.json()["reason"] == "payment_unavailable"
    assert refused.json()["retry_after_ms"] == 5000
    assert refused.headers["Retry-After"] == "5"
    assert written(database_url) == (0, 0)


def test_a_reused_key_with_another_order_is_409_and_a_changed_card_is_the_same_order(
    make_api: ApiFactory, database_url: str
) -> None:
    api, bank = make_api()
    key = {"Idempotency-Key": "checkout-abc"}
    first = api.post("/orders", json=order_body(database_url, 1), headers=key)
    assert first.status_code == 202
    other = api.post("/orders", json=order_body(database_url, 2), headers=key)
    assert other.status_code == 409, other.text
    [error] = other.json()["detail"]
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert "Idempotency-Key" in error["msg"]
    new_card = {**CARD, "number": "4000000000000002"}
    retry = api.post("/orders", json=order_body(database_url, 1, new_card), headers=key)
    assert retry.status_code == 202
    assert retry.json()["order_id"] == first.json()["order_id"]
    assert bank.calls == 1
    assert written(database_url) == (1, 1)


def test_a_race_on_one_key_answers_both_with_the_same_order(
    make_api: ApiFactory, database_url: str
) -> None:
    api, bank = make_api(CountingBank(together=2))
    body = order_body(database_url)
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda _: api.post("/orders", json=body, headers={"Idempotency-Key": "dup"}),
                range(2),
            )
        )
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
    assert answers[0].json()["order_id"] == answers[1].json()["order_id"]
    assert bank.calls == 2  # both were past the lookup; only the winner's token is kept
    assert written(database_url) == (1, 1)


def test_a_direct_caller_is_rate_limited_whatever_it_forwards(
    make_api: ApiFactory, database_url: str
) -> None:
    api, _ = make_api(API_ORDER_RATE_PER_CLIENT="0.001", API_ORDER_BURST_PER_CLIENT="2")
    body = order_body(database_url)
    codes = [
        api.post("/orders", json=body, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
        for n in range(3)
    ]
    assert codes == [202, 202, 429]  # TestClient's peer is no trusted proxy
    assert written(database_url) == (2, 2)


def test_the_openapi_document_describes_every_refusal(make_api: ApiFactory) -> None:
    api, _ = make_api()
    responses = api.get("/openapi.json").json()["paths"]["/orders"]["post"]["responses"]
    assert {"202", "409", "422", "429", "503"} <= set(responses)
    for code in ("429", "503"):
        assert "Retry-After" in responses[code]["headers"]
        schema = responses[code]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/OrderRefused"}


@pytest.fixture
def served_api(database_url: str) -> Iterator[tuple[str, CountingBank]]:
    """The api served by uvicorn as `serve` runs it (proxy headers left to the app)."""
    seed_small_catalog(database_url)
    app = create_app(
        settings(database_url, API_ORDER_RATE_PER_CLIENT="0.001", API_ORDER_BURST_PER_CLIENT="2")
    )
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, what="the api server")
    bank = CountingBank()
    app.state.card_tokens = bank
    yield f"http://127.0.0.1:{port}", bank
    server.should_exit = True
    thread.join(15)
    assert not thread.is_alive()


def test_browsers_forwarded_by_a_trusted_proxy_are_limited_each_on_their_own(
    served_api: tuple[str, CountingBank], database_url: str
) -> None:
    url, bank = served_api
    body = order_body(database_url)

    def post(forwarded_for: str | None) -> httpx.Response:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        return httpx.post(f"{url}/orders", json=body, headers=headers, timeout=30)

    assert [post("198.51.100.7").status_code for _ in range(2)] == [202, 202]
    limited = post("198.51.100.7")
    assert limited.status_code == 429, limited.text
    assert limited.json()["reason"] == "rate_limited"
    assert limited.json()["retry_after_ms"] > 1000
    assert int(limited.headers["Retry-After"]) >= 1
    # A browser claiming another address is still known by what our proxy appended.
    assert post("203.0.113.1, 198.51.100.7").status_code == 429
    assert post("198.51.100.8").status_code == 202  # another browser
    # Our own tooling on a trusted address, forwarding nobody, is nobody's customer.
    assert [post(None).status_code for _ in range(3)] == [202, 202, 202]
    assert bank.calls == 6
    assert written(database_url) == (6, 6)
