"""The api while its PostgreSQL server is down: 503 with Retry-After, never a 500, and back to
normal by itself when the server returns (the chaos run's database outage, in one test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kafka_restaurants.api.app import create_app
from kafka_restaurants.bench.postgres import LocalPostgres, postgres_bin
from tests.fixtures.components import require
from tests.integration.api.conftest import seed_small_catalog
from tests.integration.api.test_admission import CountingBank, order_body, settings, written


@pytest.fixture
def database() -> Iterator[LocalPostgres]:
    require(postgres_bin("postgres") is not None, "PostgreSQL server binaries")
    server = LocalPostgres()
    server.start()
    yield server
    server.remove()


def test_orders_and_reads_get_503_while_the_database_is_down(database: LocalPostgres) -> None:
    url = database.url
    seed_small_catalog(url)
    body = order_body(url)
    with TestClient(create_app(settings(url)), raise_server_exceptions=False) as api:
        api.app.state.card_tokens = CountingBank()  # type: ignore[attr-defined]
        assert api.post("/orders", json=body).status_code == 202
        place = api.get("/search", params={"q": "Amore"}).json()[0]["id"]

        database.crash()
        refused = api.post("/orders", json=body, headers={"Idempotency-Key": "during"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["reason"] == "database_unavailable"
        assert refused.headers["Retry-After"] == "5"
        read = api.get(f"/restaurants/{place}")
        assert (read.status_code, read.headers["Retry-After"]) == (503, "5"), read.text
        assert "database is unavailable" in read.json()["detail"]

        database.start()
        again = api.post("/orders", json=body, headers={"Idempotency-Key": "during"})
        assert again.status_code == 202, again.text
        assert api.get(f"/restaurants/{place}").status_code == 200
    assert written(url) == (2, 2)
