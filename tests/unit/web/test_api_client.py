"""The web's api client: an answer it cannot read is reported without the answer's values."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from kafka_restaurants.web.api_client import ApiBusy, ApiClient, ApiUnavailable


def test_an_unreadable_order_is_reported_by_field_not_by_value() -> None:
    order = {
        "order_id": "order-1",  # no status: the answer is not an Order
        "customer": {"name": "Dana Levi", "email": "dana@example.com"},
        "delivery": {"mode": "delivery", "address": "Dizengoff 100"},
    }
    transport = httpx.MockTransport(lambda _request: httpx.Response(200, json=order))

    async def read() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            await ApiClient(http).order("order-1")

    with pytest.raises(ApiUnavailable) as caught:
        asyncio.run(read())
    assert str(caught.value) == "unexpected answer for Order: status: missing"
    assert "Dizengoff" not in str(caught.value)  # it is logged


@pytest.mark.parametrize(
    ("status", "body", "headers", "wait_ms"),
    [
        (503, {"retry_after_ms": 1500}, {"Retry-After": "2"}, 1500),
        (429, {"detail": "slow down"}, {"Retry-After": "3"}, 3000),
        (503, {"detail": "bank away"}, {}, 2000),  # no hint: a couple of seconds
        (503, {}, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 2000),
        (429, {"retry_after_ms": 0}, {}, 500),  # never a busy loop
        (503, {"retry_after_ms": 10**9}, {}, 60_000),  # never parks the customer for long
    ],
)
def test_a_busy_answer_is_apibusy_with_a_sane_delay(
    status: int, body: dict[str, object], headers: dict[str, str], wait_ms: int
) -> None:
    transport = httpx.MockTransport(
        lambda _request: httpx.Response(status, json=body, headers=headers)
    )

    async def place() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            await ApiClient(http).place_order({}, idempotency_key="k")

    with pytest.raises(ApiBusy) as caught:
        asyncio.run(place())
    assert (caught.value.status_code, caught.value.retry_after_ms) == (status, wait_ms)
    assert caught.value.retry_after_seconds == -(-wait_ms // 1000)
