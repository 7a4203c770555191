"""The consumer loop on a real broker: traces go through Kafka; lag and reasons are counted."""

from __future__ import annotations

import uuid

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from kafka_restaurants.events import InvalidEvent, OrderDeclined, decode
from kafka_restaurants.localbroker.broker import ensure_topics
from kafka_restaurants.messaging.consumer import ConsumerSettings, EventConsumer
from kafka_restaurants.messaging.outcomes import (
    Cause,
    Done,
    Incoming,
    Outcome,
    Outgoing,
    Retry,
    invalid,
)
from kafka_restaurants.messaging.telemetry import handling_message
from kafka_restaurants.observability.tracing import trace_id_of, tracer
from tests.fixtures.components import wait_for
from tests.fixtures.kafka_io import consume_all, produce, run_in_thread

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


@pytest.fixture
def topics(kafka_bootstrap: str) -> tuple[str, str]:
    name = f"obs-{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka_bootstrap, {name: 1, f"{name}.DLQ": 1, f"{name}-out": 1})
    return name, f"{name}-out"


def _value(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_one_trace_through_kafka_with_lag_retries_and_dead_letters(
    kafka_bootstrap: str, topics: tuple[str, str], spans: InMemorySpanExporter
) -> None:
    source, output = topics
    group = f"g-{uuid.uuid4().hex[:8]}"
    event = OrderDeclined(order_id="o-traced", decline_code="card_declined", reason="test")
    produce(
        kafka_bootstrap,
        source,
        [
            (
                b"o-traced",
                event.model_dump_json().encode(),
                [("traceparent", TRACEPARENT.encode())],
            ),
            (b"garbage", b"{not json", None),
        ],
    )
    attempts: dict[str, int] = {}

    async def handle(batch: list[Incoming]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for message in batch:
            with handling_message(message), tracer().start_as_current_span("charge"):
                try:
                    declined = decode(message.value, message.headers, OrderDeclined)
                except InvalidEvent as exc:
                    outcomes.append(invalid(exc))
                    continue
                attempts[declined.order_id] = attempts.get(declined.order_id, 0) + 1
                if attempts[declined.order_id] == 1:
                    outcomes.append(Retry("bank answered 503: try again", Cause.BANK_ERROR))
                else:
                    outcomes.append(Done((Outgoing(output, declined),)))
        return outcomes

    retries = {"group": group, "topic": source, "reason": "bank_error"}
    dead = {"group": group, "topic": source, "reason": "invalid_event"}
    settings = ConsumerSettings(
        kafka_bootstrap, group, (source,), transactional=True, backoff_base=0.05
    )
    for _ in run_in_thread(EventConsumer(settings, handle)):
        [out] = consume_all(kafka_bootstrap, output, expected=1)
        wait_for(
            lambda: _value("kafka_dead_letters_total", dead) == 1,
            what="the garbage counted as a dead letter",
        )
        wait_for(
            lambda: (
                REGISTRY.get_sample_value(
                    "kafka_consumer_lag", {"group": group, "topic": source, "partition": "0"}
                )
                == 0
            ),
            what="lag sampled at 0 once everything is handled",
        )
    assert _value("kafka_retries_total", retries) == 1
    assert (
        _value("kafka_message_processing_seconds_count", {"group": group, "topic": source})
        >= 3  # the order twice (retry, then done) and the garbage once
    )
    # The event produced continues the incoming trace, through a producer span.
    headers = dict(out.headers() or [])
    outgoing = headers["traceparent"].decode()
    assert trace_id_of(outgoing) == TRACE
    finished = spans.get_finished_spans()
    by_id = {span.context.span_id: span for span in finished}
    publish = by_id[int(outgoing.split("-")[2], 16)]
    assert publish.name == f"{output} publish"
    assert publish.parent is not None
    process = by_id[publish.parent.span_id]
    assert process.name == f"{source} process"
    assert process.parent is not None and process.parent.span_id == 0x00F067AA0BA902B7
    # the handler's own work is a child of the consume span of its message
    charges = [
        s
        for s in finished
        if s.name == "charge" and trace.format_trace_id(s.context.trace_id) == TRACE
    ]
    assert charges and all(
        s.parent is not None and by_id[s.parent.span_id].name == f"{source} process"
        for s in charges
    )
