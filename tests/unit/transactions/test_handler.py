"""The batch handler over a scripted bank (httpx MockTransport): chunks, order, whole failures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace

import httpx

from kafka_restaurants.events import OrderConfirmed, OrderDeclined, encode
from kafka_restaurants.messaging.outcomes import DeadLetter, Done, Incoming, Outcome, Retry
from kafka_restaurants.transactions.app import PaymentHandler
from kafka_restaurants.transactions.bank_client import BankClient
from kafka_restaurants.transactions.bank_wire import BankAnswer, BankBatchFailed, BankUnreachable
from kafka_restaurants.transactions.charging import OutputTopics, charge_request
from tests.unit.transactions.samples import placed

TOPICS = OutputTopics(confirmed="c", declined="d")


def message(order_id: str, offset: int) -> Incoming:
    encoded = encode(placed(order_id))
    headers: list[tuple[str, bytes | None]] = list(encoded.headers)
    return Incoming("order", 0, offset, encoded.key, encoded.value, headers)


class ScriptedBank:
    """Answers batch calls per charge by order id prefix; tracks calls and how many overlap."""

    def __init__(self, whole_call: httpx.Response | None = None) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.keys: list[str] = []
        self.calls = 0
        self.whole_call = whole_call

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            assert request.url.path == "/v1/charges/batch"
            charges = json.loads(request.content)["charges"]
            self.calls += 1
            await asyncio.sleep(0.01)
            if self.whole_call is not None:
                return self.whole_call
            results = []
            for charge in charges:
                key = charge["idempotency_key"]
                self.keys.append(key)
                assert charge["reference"] == key
                results.append(self.answer(key))
            if any(key.startswith("down") for key in (c["idempotency_key"] for c in charges)):
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(200, json={"results": results})
        finally:
            self.in_flight -= 1

    @staticmethod
    def answer(key: str) -> dict[str, object]:
        if key.startswith("ok"):
            return {"status_code": 201, "body": {"charge_id": f"ch-{key}", "status": "succeeded"}}
        if key.startswith("poor"):
            body = {"charge_id": "x", "status": "declined", "decline_code": "insufficient_funds"}
            return {"status_code": 201, "body": body}
        if key.startswith("gone"):
            return {"status_code": 404, "body": {"detail": [{"loc": ["body", "token"]}]}}
        return {"status_code": 503, "body": {"error": "processing_error"}}


async def run_batch(
    bank: ScriptedBank, batch: list[Incoming], concurrency: int, chunk: int = 4
) -> list[Outcome]:
    client = BankClient("http://bank.test", transport=httpx.MockTransport(bank))
    async with client:
        return await PaymentHandler(client, TOPICS, concurrency, chunk)(batch)


async def test_batch_is_charged_in_chunks_concurrently_and_answered_in_batch_order() -> None:
    bank = ScriptedBank()
    prefixes = ["ok", "poor", "busy", "gone"]
    ids = [f"{prefixes[i % 4]}-{i}" for i in range(40)]
    batch = [message(order_id, i) for i, order_id in enumerate(ids)]
    batch.insert(7, Incoming("order", 0, 999, b"junk", b"{not json", []))

    outcomes = await run_batch(bank, batch, concurrency=3, chunk=4)

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
        elif order_id.startswith("gone"):
            assert isinstance(outcome, Done)
            declined = outcome.outputs[0].event
            assert isinstance(declined, OrderDeclined)
            assert (declined.order_id, declined.decline_code) == (order_id, "payment_failed")
        else:
            assert isinstance(outcome, Retry), (order_id, outcome)
    assert sorted(bank.keys) == sorted(ids)
    assert bank.calls == 10  # 40 orders, 4 a call
    assert 1 < bank.most_in_flight <= 3


async def test_a_call_that_fails_as_a_whole_retries_every_order_in_it() -> None:
    bank = ScriptedBank()
    ids = ["ok-1", "down-2", "poor-3", "ok-4", "ok-5", "poor-6"]
    batch = [message(order_id, i) for i, order_id in enumerate(ids)]

    outcomes = await run_batch(bank, batch, concurrency=2, chunk=3)

    # The first call (with "down-2") got no answer: all three of its orders come back later.
    assert [type(o) for o in outcomes] == [Retry, Retry, Retry, Done, Done, Done]
    assert all("bank unreachable" in o.reason for o in outcomes[:3] if isinstance(o, Retry))


async def test_a_5xx_or_a_short_answer_to_the_whole_call_retries_every_order() -> None:
    for whole in (
        httpx.Response(503, json={"error": "processing_error"}),
        httpx.Response(504, json={"error": "timeout"}),
        httpx.Response(404, json={"detail": "Not Found"}),
        httpx.Response(200, json={"results": [{"status_code": 201, "body": {}}]}),
        httpx.Response(200, text="not json"),
    ):
        batch = [message(f"ok-{i}", i) for i in range(3)]
        outcomes = await run_batch(ScriptedBank(whole_call=whole), batch, concurrency=1)
        assert all(isinstance(o, Retry) for o in outcomes), (whole, outcomes)


async def bank_answer(respond: Callable[[httpx.Request], httpx.Response]) -> BankAnswer:
    client = BankClient("http://bank.test", transport=httpx.MockTransport(respond))
    async with client:
        [answer] = await client.charge_batch([charge_request(placed())])
        return answer


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

    answer = await bank_answer(respond)
    assert isinstance(answer, BankBatchFailed) and "502" in answer.reason
    [request] = seen
    assert request.url.path == "/v1/charges/batch"
    [charge] = json.loads(request.content)["charges"]
    assert charge["idempotency_key"] == "ord_123"
    assert charge["reference"] == "ord_123"


def test_final_attempt_looks_the_charge_up_and_fails_an_uncharged_order() -> None:
    lookups: list[str] = []

    async def bank(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            assert request.url.path == "/v1/charges"
            lookups.append(request.url.params["reference"])
            return httpx.Response(200, json={"charges": []})
        return httpx.Response(503, json={"error": "processing_error"})

    async def run(batch: list[Incoming]) -> list[Outcome]:
        async with BankClient("http://bank.test", transport=httpx.MockTransport(bank)) as client:
            return await PaymentHandler(client, TOPICS)(batch)

    early, last = (
        message("flaky-1", 0),
        replace(message("flaky-2", 1), attempt=5, final_attempt=True),
    )
    retried, failed = asyncio.run(run([early, last]))
    assert isinstance(retried, Retry)
    assert lookups == ["flaky-2"]  # only the final attempt asks the bank what it did
    assert isinstance(failed, DeadLetter) and "gave up after 5 attempts" in failed.reason
    [output] = failed.outputs
    assert output.topic == "d"
    assert isinstance(output.event, OrderDeclined)
    assert output.event.decline_code == "payment_failed"
    assert output.event.reason == "We couldn't process your payment. You were not charged."
