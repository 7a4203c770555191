"""What every FastAPI app gets: request metrics by route template, server spans, /metrics.

Server spans are FastAPI's own (`FastAPI(telemetry=SERVER_TELEMETRY)`): one span per request,
named by method and route template, continuing the caller's `traceparent`. They cost about a
third of what OpenTelemetry's ASGI middleware did (which matched the route a second time and
collected a dozen attributes for spans the sampler then dropped).
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI, Response
from fastapi.telemetry import TelemetryConfig
from opentelemetry.trace import SpanKind
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kafka_restaurants.observability.tracing import keep_error, setup_tracing

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status code",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Probes and scrapes are not worth a span each.
UNTRACED_PATHS = ("/healthz", "/readyz", "/metrics", "/static/")
UNMATCHED = "unmatched"


def untraced(scope: MutableMapping[str, Any]) -> bool:
    """Whether this request gets no span (a probe, a scrape, a static file)."""
    return str(scope.get("path", "")).startswith(UNTRACED_PATHS)


# Spans only: request metrics are Prometheus' (HttpMetricsMiddleware), logs are ours, and one
# span per request is enough (no spans for dependency solving, the endpoint, serialising).
SERVER_TELEMETRY: TelemetryConfig = {
    "tracing": True,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "exclude": untraced,
}


def route_template(scope: Scope) -> str:
    """`/orders/{order_id}` rather than the raw path, so label values stay few."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else UNMATCHED


class HttpMetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        started_ns = time.time_ns()
        status = 500  # what the client gets if the app raises before answering

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = route_template(scope)
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)
            if status >= 500:
                # Inside the server span: kept even when its trace was not sampled.
                keep_error(
                    f"{method} {route}",
                    SpanKind.SERVER,
                    started_ns,
                    f"answered {status}",
                    {
                        "http.request.method": method,
                        "http.route": route,
                        "http.response.status_code": status,
                    },
                )


def metrics_response() -> Response:
    """This process's Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def instrument_httpx() -> None:
    """Outgoing httpx calls become client spans and carry `traceparent` (once per process)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def instrument_app(app: FastAPI, service: str) -> FastAPI:
    """Request metrics, traced outgoing httpx calls, and /metrics if missing; the server spans
    come from an app built with `FastAPI(telemetry=SERVER_TELEMETRY)` once tracing is set up
    here."""
    setup_tracing(service)
    instrument_httpx()
    app.add_middleware(HttpMetricsMiddleware)
    if not any(getattr(route, "path", None) == "/metrics" for route in app.routes):

        def metrics() -> Any:
            return metrics_response()

        app.add_api_route("/metrics", metrics, include_in_schema=False, methods=["GET"])
    return app
