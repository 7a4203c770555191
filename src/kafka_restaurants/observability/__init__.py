"""Metrics, traces and structured logs shared by every process."""

from kafka_restaurants.observability.http import (
    SERVER_TELEMETRY,
    instrument_app,
    instrument_httpx,
    metrics_response,
    route_template,
)
from kafka_restaurants.observability.logs import configure_logging, current_trace_ids, order_context
from kafka_restaurants.observability.tracing import (
    extract_context,
    inject_traceparent,
    setup_tracing,
    trace_id_of,
    traceparent_of,
)

__all__ = [
    "SERVER_TELEMETRY",
    "configure_logging",
    "current_trace_ids",
    "extract_context",
    "inject_traceparent",
    "instrument_app",
    "instrument_httpx",
    "metrics_response",
    "order_context",
    "route_template",
    "setup_tracing",
    "trace_id_of",
    "traceparent_of",
]
