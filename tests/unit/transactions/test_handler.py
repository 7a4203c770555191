"""The batch handler over a scripted bank (httpx MockTransport): concurrency, order, the key."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx

from kafka_restaurants.events import OrderConfirmed, OrderDeclined, encode
from kafka_restaurants.messaging.outcomes import DeadLetter, Done, Incoming, Outcome, Retry
from kafka_restaurants.transactions.app import order_handler
from kafka_restaurants.transactions.bank_client import BankClient
from kafka_restaurants.transactions.charging import (
    BankAnswer,
    BankReply,
    BankUnreachable,
    OutputTopics,
    charge_request,
)
from tests.unit.transactions.samples import placed

TOPICS = OutputTopics(confirmed="c", declined="d")


def message(order_id: str, offset: int) -> Incoming:
    encoded = encode(placed(order_id))
    headers: list[tuple[str, bytes | None]] = list(encoded.headers)
    return Incoming("order", 0, offset, encoded.key, encoded.value, headers)


class ScriptedBank:
    """Answers by order id prefix, slowest first, and tracks how many requests overlap."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.keys: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            body = json.loads(request.content)
            key = request.headers["Idempotency-Key"]
            self.keys.append(key)
            assert body["reference"] == key
            index = int(key.rsplit("-", 1)[1])
            await asyncio.sleep(0.02 * (20 - index % 20) / 20)  # later messages answer first
            if key.startswith("ok"):
                return httpx.Response(201, json={"charge_id": f"ch-{key}", "status": "succeeded"})
            if key.startswith("poor"):
                return httpx.Response(
                    201,
                    json={
                        "charge_id": "x",
                        "status": "declined",
                        "decline_code": "insufficient_funds",
                    },
                )
            if key.startswith("down"):
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(503, json={"error": "processing_error"})
        finally:
            self.in_flight -= 1


async def run_batch(bank: ScriptedBank, batch: list[Incoming], concurrency: int) -> list[Outcome]:
    client = BankClient("http://bank.test", transport=httpx.MockTransport(bank))
    async with client:
        return await order_handler(client, TOPICS, concurrency)(batch)


async def test_batch_is_charged_concurrently_and_answered_in_batch_order() -> None:
    bank = ScriptedBank()
    prefixes = ["ok", "poor", "busy", "down"]
    ids = [f"{prefixes[i % 4]}-{i}" for i in range(40)]
    batch = [message(order_id, i) for i, order_id in enumerate(ids)]
    batch.insert(7, Incoming("order", 0, 999, b"junk", b"{not json", []))

    outcomes = await run_batch(bank, batch, concurrency=8)

    assert len(outcomes) == len(batch)
    assert isinstance(outcomes[7], DeadLetter)
    del outcomes[7]
    for order_id, outcome in zip(ids, outcomes, strict=True):
        if order_id.startswith("ok"):
            assert isinstance(outcome, Done)
            event = outcome.outputs[0].event
            assert isinstance(event, OrderConfirmed)
            assert event.order_id == order_id
            assert event.charge_id == f"ch-{order_id}"
        elif order_id.startswith("poor"):
            assert isinstance(outcome, Done)
            assert isinstance(outcome.outputs[0].event, OrderDeclined)
            assert outcome.outputs[0].event.order_id == order_id
        else:
            assert isinstance(outcome, Retry), (order_id, outcome)
    assert sorted(bank.keys) == sorted(ids)
    assert 1 < bank.most_in_flight <= 8


async def bank_answer(respond: Callable[[httpx.Request], httpx.Response]) -> BankAnswer:
    client = BankClient("http://bank.test", transport=httpx.MockTransport(respond))
    async with client:
        return await client.charge(charge_request(placed()))


async def test_client_turns_a_timeout_into_no_answer() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    answer = await bank_answer(respond)
    assert isinstance(answer, BankUnreachable)
    assert "timed out" in answer.reason


async def test_client_sends_the_key_and_reads_a_body_that_is_not_json() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(502, text="<html>bad gateway</html>")

    assert await bank_answer(respond) == BankReply(502, {})
    [request] = seen
    assert request.url.path == "/v1/charges"
    assert request.headers["Idempotency-Key"] == "ord_123"
    assert json.loads(request.content)["reference"] == "ord_123"
