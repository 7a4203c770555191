"""The shared FastAPI instrumentation: metrics by route template, server spans, /metrics."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from kafka_restaurants.observability import SERVER_TELEMETRY, instrument_app


def _app() -> FastAPI:
    router = APIRouter(prefix="/shop")

    @router.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    app = FastAPI(telemetry=SERVER_TELEMETRY)
    app.include_router(router)
    return instrument_app(app, "unit")


def _count(route: str, status: str) -> float:
    labels = {"method": "GET", "route": route, "status": status}
    return REGISTRY.get_sample_value("http_requests_total", labels) or 0.0


def test_requests_are_counted_and_timed_by_route_template(spans: InMemorySpanExporter) -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    before = (
        _count("/shop/items/{item_id}", "200"),
        _count("unmatched", "404"),
        _count("/shop/boom", "500"),
    )
    histogram_before = (
        REGISTRY.get_sample_value(
            "http_request_duration_seconds_count",
            {"method": "GET", "route": "/shop/items/{item_id}"},
        )
        or 0.0
    )
    for item_id in (1, 2, 3):
        assert client.get(f"/shop/items/{item_id}").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/shop/boom").status_code == 500
    assert _count("/shop/items/{item_id}", "200") == before[0] + 3
    assert _count("unmatched", "404") == before[1] + 1
    assert _count("/shop/boom", "500") == before[2] + 1
    assert (
        REGISTRY.get_sample_value(
            "http_request_duration_seconds_count",
            {"method": "GET", "route": "/shop/items/{item_id}"},
        )
        == histogram_before + 3
    )
    servers = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert "GET /shop/items/{item_id}" in {s.name for s in servers}


def test_metrics_are_served_and_probes_are_not_traced(spans: InMemorySpanExporter) -> None:
    client = TestClient(_app())
    body = client.get("/metrics").text
    assert "http_requests_total" in body and "http_request_duration_seconds_bucket" in body
    assert not [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]


def test_a_secret_query_parameter_never_reaches_a_span(spans: InMemorySpanExporter) -> None:
    app = FastAPI(telemetry=SERVER_TELEMETRY)

    @app.get("/kitchen/{restaurant_id}")
    def kitchen(restaurant_id: int, key: str = "") -> dict[str, int]:
        return {"id": restaurant_id}

    client = TestClient(instrument_app(app, "unit"))
    assert client.get("/kitchen/9", params={"key": "s3cret-kitchen-key", "x": "1"}).is_success
    [server] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.name == "GET /kitchen/{restaurant_id}"
    assert (server.attributes or {}).get("url.query") == "key=REDACTED&x=1"
    assert "s3cret" not in str(dict(server.attributes or {}))
