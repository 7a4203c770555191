"""The api's bank client over a real socket: tokens, refusals by field, outages, trace context."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from kafka_restaurants.api.bank_client import CardTokens, ChargeLookup
from kafka_restaurants.api.errors import OrderRejected, PaymentServiceUnavailable
from kafka_restaurants.observability.tracing import tracer
from tests.fixtures.bank import API_KEY
from tests.fixtures.components import free_port
from tests.fixtures.servers import UvicornThread


@dataclass
class Card:
    number: str
    exp_month: int = 12
    exp_year: int = 2034
    cvc: str = "123"


@pytest.fixture
def bank() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in bank that records what reached it: refuses 4000..., fails 5000..., and any
    caller without the api's key."""
    seen: list[dict[str, Any]] = []
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/tokens")
    async def tokens(request: Request) -> JSONResponse:
        body = await request.json()
        seen.append({"body": body, "traceparent": request.headers.get("traceparent")})
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"detail": "a known bearer key is required"}, status_code=401)
        if body["number"].startswith("4000"):
            detail = [{"loc": ["body", "number"], "msg": "failed the Luhn check", "type": "luhn"}]
            return JSONResponse({"detail": detail}, status_code=422)
        if body["number"].startswith("5000"):
            return JSONResponse({"detail": "down"}, status_code=503)
        return JSONResponse({"token": "tok_1", "brand": "visa", "last4": body["number"][-4:]})

    @app.get("/v1/charges")
    def charges(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"detail": "the api key does not allow this"}, status_code=403)
        return JSONResponse({"charges": [{"reference": request.query_params["reference"]}]})

    server = UvicornThread(app).start()
    yield server.url, seen
    server.stop()


def test_a_card_becomes_a_token_and_the_trace_goes_along(
    bank: tuple[str, list[dict[str, Any]]], spans: InMemorySpanExporter
) -> None:
    url, seen = bank
    cards = CardTokens(url, API_KEY)
    try:
        with tracer().start_as_current_span("order") as parent:
            token = cards.tokenize(Card("4242424242424242"), "order-1", 2500, "EUR")
            # The same kept-alive connection.
            again = cards.tokenize(Card("4242424242421881"), "order-2", 990, "EUR")
    finally:
        cards.close()
    assert (token.token, token.brand, token.last4) == ("tok_1", "visa", "4242")
    assert again.last4 == "1881"
    assert seen[0]["body"] == {
        "number": "4242424242424242",
        "exp_month": 12,
        "exp_year": 2034,
        "cvc": "123",
        "reference": "order-1",
        "max_amount": 2500,
        "currency": "EUR",
    }
    trace_id = f"{parent.get_span_context().trace_id:032x}"
    assert all(s["traceparent"] and s["traceparent"].split("-")[1] == trace_id for s in seen)
    calls = [s for s in spans.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert len(calls) == 2 and calls[0].name == "POST /v1/tokens"
    assert calls[0].attributes is not None
    assert calls[0].attributes["http.response.status_code"] == 200
    assert (
        calls[0].parent is not None and calls[0].parent.span_id == parent.get_span_context().span_id
    )


def test_refusals_name_the_card_field_and_outages_are_unavailable(
    bank: tuple[str, list[dict[str, Any]]],
) -> None:
    url, _seen = bank
    cards = CardTokens(url, API_KEY)
    try:
        with pytest.raises(OrderRejected) as refused:
            cards.tokenize(Card("4000000000000001"), "order-1", 100, "EUR")
        assert [e.loc for e in refused.value.errors] == [("body", "card", "number")]
        assert "4000000000000001" not in str(refused.value)
        with pytest.raises(PaymentServiceUnavailable, match="503"):
            cards.tokenize(Card("5000000000000001"), "order-1", 100, "EUR")
    finally:
        cards.close()
    nobody = CardTokens(f"http://127.0.0.1:{free_port()}", API_KEY, timeout=1.0)
    with pytest.raises(PaymentServiceUnavailable, match="unreachable"):
        nobody.tokenize(Card("4242424242424242"), "order-1", 100, "EUR")
    nobody.close()


def test_a_refused_key_is_unavailable_and_logged_without_the_key(
    bank: tuple[str, list[dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    url, _seen = bank
    wrong = "not-the-api-key-at-all"
    cards = CardTokens(url, wrong)
    lookup = ChargeLookup(url, wrong)
    try:
        with pytest.raises(PaymentServiceUnavailable, match="401"):
            cards.tokenize(Card("4242424242424242"), "order-1", 100, "EUR")
        assert lookup.charges_for("order-1") is None
    finally:
        cards.close()
        lookup.close()
    refusals = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(refusals) == 2 and all("check BANK_API_KEY" in line for line in refusals)
    assert "(401) for creating a card token" in refusals[0]
    assert "(403) for looking up charges" in refusals[1]
    assert wrong not in caplog.text
    # With the right key, the lookup answers.
    allowed = ChargeLookup(url, API_KEY)
    assert allowed.charges_for("order-1") == [{"reference": "order-1"}]
    allowed.close()
