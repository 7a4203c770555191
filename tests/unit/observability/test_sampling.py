"""Which spans are recorded: sampled where a trace starts, followed downstream, errors kept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode

from kafka_restaurants.messaging.outcomes import DeadLetter, Done, Incoming
from kafka_restaurants.messaging.telemetry import MessageSpans
from kafka_restaurants.observability import SERVER_TELEMETRY, instrument_app
from kafka_restaurants.observability.tracing import (
    DEFAULT_EXPORT_RATIO,
    KEEP,
    KeepErrors,
    extract_context,
    sampler_from_env,
    setup_tracing,
    tracer,
)

SAMPLED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
NOT_SAMPLED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"


@pytest.fixture
def sampling_nothing(spans: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """The process's sampler as it is with export off: no new trace is sampled."""
    provider = setup_tracing("tests")
    assert provider is not None and isinstance(provider.sampler, KeepErrors)
    provider.sampler.inner = ParentBased(TraceIdRatioBased(0.0))
    try:
        yield spans
    finally:
        provider.sampler.inner = ALWAYS_ON


def ratio_of(sampler: KeepErrors) -> str:
    return sampler.get_description()


def test_the_ratio_is_a_tenth_when_exporting_none_when_not_and_the_variable_wins() -> None:
    assert f"TraceIdRatioBased{{{DEFAULT_EXPORT_RATIO}}}" in ratio_of(sampler_from_env(True, {}))
    assert "TraceIdRatioBased{0.0}" in ratio_of(sampler_from_env(False, {}))
    assert "TraceIdRatioBased{0.5}" in ratio_of(
        sampler_from_env(False, {"OTEL_TRACES_SAMPLER_ARG": "0.5"})
    )
    assert "TraceIdRatioBased{1.0}" in ratio_of(
        sampler_from_env(True, {"OTEL_TRACES_SAMPLER_ARG": "7"})
    )
    bad = sampler_from_env(True, {"OTEL_TRACES_SAMPLER_ARG": "lots"})
    assert f"TraceIdRatioBased{{{DEFAULT_EXPORT_RATIO}}}" in ratio_of(bad)


def test_a_trace_not_sampled_still_has_ids_for_the_logs(
    sampling_nothing: InMemorySpanExporter,
) -> None:
    with tracer().start_as_current_span("root") as span:
        context = span.get_span_context()
        assert not span.is_recording()
        assert context.is_valid and not context.trace_flags.sampled
    assert sampling_nothing.get_finished_spans() == ()


def test_the_callers_decision_is_followed_either_way(
    sampling_nothing: InMemorySpanExporter,
) -> None:
    with tracer().start_as_current_span("sampled upstream", context=extract_context(SAMPLED)):
        pass
    with tracer().start_as_current_span("not sampled", context=extract_context(NOT_SAMPLED)):
        pass
    assert [s.name for s in sampling_nothing.get_finished_spans()] == ["sampled upstream"]


def test_a_server_error_in_a_trace_not_sampled_is_kept(
    sampling_nothing: InMemorySpanExporter,
) -> None:
    app = FastAPI(telemetry=SERVER_TELEMETRY)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/fine")
    def fine() -> dict[str, bool]:
        return {"ok": True}

    client = TestClient(instrument_app(app, "unit"), raise_server_exceptions=False)
    assert client.get("/fine", headers={"traceparent": NOT_SAMPLED}).status_code == 200
    assert client.get("/boom", headers={"traceparent": NOT_SAMPLED}).status_code == 500
    assert client.get("/readyz").status_code == 404  # untraced paths keep nothing
    [kept] = sampling_nothing.get_finished_spans()
    assert kept.name == "GET /boom" and kept.kind is SpanKind.SERVER
    assert kept.status.status_code is StatusCode.ERROR
    assert kept.attributes is not None and kept.attributes[KEEP] is True
    assert kept.attributes["http.response.status_code"] == 500
    assert trace.format_trace_id(kept.context.trace_id) == "0af7651916cd43dd8448eb211c80319c"
    assert kept.start_time is not None and kept.end_time is not None
    assert kept.start_time <= kept.end_time


def test_a_dead_letter_in_a_trace_not_sampled_is_kept(
    sampling_nothing: InMemorySpanExporter,
) -> None:
    def message(offset: int) -> Incoming:
        return Incoming(
            topic="order",
            partition=0,
            offset=offset,
            key=b"order-1",
            value=b"{}",
            headers=[("traceparent", NOT_SAMPLED.encode())],
        )

    batch = [message(1), message(2)]
    spans = MessageSpans(batch, "transaction-service")
    spans.finish(batch, [Done(), DeadLetter("not a valid OrderPlaced")])
    [kept] = sampling_nothing.get_finished_spans()
    assert kept.name == "order process" and kept.kind is SpanKind.CONSUMER
    assert kept.status.status_code is StatusCode.ERROR
    assert kept.status.description == "not a valid OrderPlaced"
    assert trace.format_trace_id(kept.context.trace_id) == "0af7651916cd43dd8448eb211c80319c"
