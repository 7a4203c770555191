"""The load generator's HTTP client against a real uvicorn server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from kafka_restaurants.bench import rawhttp
from kafka_restaurants.bench.rawhttp import ConnectionPool, target
from kafka_restaurants.bench.references import bare_fastapi


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with bare_fastapi() as url:
        yield url


async def test_answers_keep_their_connections_and_bodies(server: str) -> None:
    pool = ConnectionPool(server, 4)
    try:
        replies = await asyncio.gather(*(pool.request("GET", "/ping") for _ in range(40)))
        assert {r.status for r in replies} == {200}
        assert all(r.json() == {"ok": True} for r in replies)
        refused = await pool.request("POST", "/ping", json_body={"a": 1})
        assert refused.status == 405 and "Method Not Allowed" in refused.text
        missing = await pool.request("GET", target("/nowhere", {"q": "a b&c"}))
        assert missing.status == 404
    finally:
        await pool.close()


async def test_a_connection_the_server_closed_is_replaced_not_reported(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = ConnectionPool(server, 8)
    try:
        await asyncio.gather(*(pool.request("GET", "/ping") for _ in range(16)))
        # Keep idle connections past uvicorn's 5 s keep-alive so the server closes them first.
        monkeypatch.setattr(rawhttp, "MAX_IDLE_SECONDS", 3600.0)
        await asyncio.sleep(6)
        replies = await asyncio.gather(*(pool.request("GET", "/ping") for _ in range(16)))
        assert {r.status for r in replies} == {200}
    finally:
        await pool.close()


def test_only_plain_http_base_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="base URL"):
        ConnectionPool("https://example.com", 1)
