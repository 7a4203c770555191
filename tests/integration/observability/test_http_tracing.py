"""HTTP in and out over real sockets: a request's trace continues into the calls it makes."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from kafka_restaurants.observability import SERVER_TELEMETRY, instrument_app, trace_id_of
from tests.fixtures.components import free_port, wait_for

TRACE = "5bf92f3577b34da6a3ce929d0e0e4736"


class Server:
    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        wait_for(lambda: self.server.started, what="test server started")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def downstream() -> Iterator[tuple[Server, list[str]]]:
    seen: list[str] = []
    app = FastAPI(telemetry=SERVER_TELEMETRY)

    @app.get("/search")
    def search(request: Request) -> list[str]:
        seen.append(request.headers.get("traceparent", ""))
        return []

    with Server(instrument_app(app, "downstream")) as server:
        yield server, seen


def test_incoming_trace_continues_into_outgoing_calls(
    downstream: tuple[Server, list[str]], spans: InMemorySpanExporter
) -> None:
    api, seen = downstream
    app = FastAPI(telemetry=SERVER_TELEMETRY)

    @app.get("/page")
    async def page() -> dict[str, int]:
        async with httpx.AsyncClient(base_url=api.url) as client:
            answer = await client.get("/search", params={"q": "pizza"})
        return {"status": answer.status_code}

    with Server(instrument_app(app, "upstream")) as web:
        # urllib, not httpx: this process's httpx is instrumented and would start its own trace
        request = urllib.request.Request(
            f"{web.url}/page", headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read()) == {"status": 200}
        metrics = httpx.get(f"{web.url}/metrics").text
    [header] = seen
    assert trace_id_of(header) == TRACE
    # downstream's parent is upstream's outgoing client span, whose parent is the server span
    client_id = int(header.split("-")[2], 16)
    wait_for(
        lambda: client_id in {s.context.span_id for s in spans.get_finished_spans()},
        what="client span ended",
    )
    by_id = {span.context.span_id: span for span in spans.get_finished_spans()}
    client_span = by_id[client_id]
    assert client_span.kind is SpanKind.CLIENT
    assert client_span.parent is not None
    server_span = by_id[client_span.parent.span_id]
    assert server_span.kind is SpanKind.SERVER and server_span.name == "GET /page"
    assert server_span.parent is not None and server_span.parent.span_id == 0x00F067AA0BA902B7
    assert trace.format_trace_id(server_span.context.trace_id) == TRACE
    assert 'http_requests_total{method="GET",route="/page",status="200"}' in metrics
