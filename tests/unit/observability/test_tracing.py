"""traceparent inject/extract, and which exporter the OTEL_* variables choose."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kafka_restaurants.observability.tracing import (
    exporter_from_env,
    extract_context,
    inject_traceparent,
    trace_id_of,
    traceparent_of,
    tracer,
)

UPSTREAM = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_extracted_context_continues_the_upstream_trace() -> None:
    context = extract_context(UPSTREAM)
    parent = trace.get_current_span(context).get_span_context()
    assert parent.is_valid and parent.is_remote
    assert trace.format_trace_id(parent.trace_id) == "0af7651916cd43dd8448eb211c80319c"
    assert trace.format_span_id(parent.span_id) == "b7ad6b7169203331"


@pytest.mark.parametrize("bad", [None, "", "garbage", "00-" + "0" * 32 + "-b7ad6b7169203331-01"])
def test_a_missing_or_bad_traceparent_starts_nothing(bad: str | None) -> None:
    assert not trace.get_current_span(extract_context(bad)).get_span_context().is_valid
    assert trace_id_of(bad) is None


def test_injected_traceparent_names_the_current_span(spans: InMemorySpanExporter) -> None:
    assert inject_traceparent() is None  # outside any span
    with tracer().start_as_current_span("child", context=extract_context(UPSTREAM)) as span:
        header = inject_traceparent()
    context = span.get_span_context()
    assert header == (
        f"00-{trace.format_trace_id(context.trace_id)}-{trace.format_span_id(context.span_id)}-01"
    )
    assert trace_id_of(header) == "0af7651916cd43dd8448eb211c80319c"
    assert traceparent_of(span) == header
    [finished] = spans.get_finished_spans()
    assert finished.parent is not None and finished.parent.span_id == 0xB7AD6B7169203331


def test_round_trip_through_a_header() -> None:
    assert inject_traceparent(extract_context(UPSTREAM)) == UPSTREAM
    assert trace_id_of(UPSTREAM.upper()) == "0af7651916cd43dd8448eb211c80319c"


def test_export_is_off_unless_the_otel_variables_ask() -> None:
    assert exporter_from_env({}) is None
    assert exporter_from_env({"OTEL_TRACES_EXPORTER": "none"}) is None
    assert (
        exporter_from_env(
            {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
        )
        is None
    )
    assert isinstance(exporter_from_env({"OTEL_TRACES_EXPORTER": "console"}), ConsoleSpanExporter)


def test_an_otlp_endpoint_turns_export_on() -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    for env in (
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"},
        {"OTEL_TRACES_EXPORTER": "otlp"},
    ):
        exporter = exporter_from_env(env)
        assert isinstance(exporter, OTLPSpanExporter), env
        exporter.shutdown()
