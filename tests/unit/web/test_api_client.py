"""The web's api client: an answer it cannot read is reported without the answer's values."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from kafka_restaurants.web.api_client import ApiClient, ApiUnavailable


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
