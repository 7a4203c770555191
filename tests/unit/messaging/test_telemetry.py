"""Consume/produce spans around a batch, the handler's scope, lag sampling, causes as labels."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import REGISTRY

from kafka_restaurants.events import InvalidEvent, OrderDeclined, decode
from kafka_restaurants.messaging.outcomes import (
    Cause,
    DeadLetter,
    Done,
    Incoming,
    Outcome,
    Retry,
    invalid,
)
from kafka_restaurants.messaging.telemetry import (
    LagSampler,
    MessageSpans,
    handling_message,
)
from kafka_restaurants.observability.logs import JsonFormatter, OrderContextFilter
from kafka_restaurants.observability.tracing import trace_id_of, tracer

UPSTREAM_TRACE = "0af7651916cd43dd8448eb211c80319c"


def _message(offset: int, order_id: str, traceparent: str | None) -> Incoming:
    headers: list[tuple[str, bytes | None]] = [("event_type", b"OrderPlaced")]
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return Incoming("order", 0, offset, order_id.encode(), b"{}", headers)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, str]] = []
        self.setFormatter(JsonFormatter())
        self.addFilter(OrderContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_handler_work_is_a_child_of_the_consume_span_and_outputs_continue_it(
    spans: InMemorySpanExporter,
) -> None:
    upstream = f"00-{UPSTREAM_TRACE}-b7ad6b7169203331-01"
    batch = [_message(5, "o-1", upstream), _message(6, "o-2", None)]
    lines = _Lines()
    logger = logging.getLogger("test.kafka.handler")
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)

    async def handler(messages: list[Incoming]) -> list[Outcome]:
        async def one(message: Incoming) -> Outcome:
            with handling_message(message), tracer().start_as_current_span("bank charge"):
                logger.info("charging")
            return Done() if message.offset == 5 else DeadLetter("not a valid OrderPlaced")

        return list(await asyncio.gather(*(one(m) for m in messages)))

    async def loop() -> tuple[list[Outcome], str | None]:
        batch_spans = MessageSpans(batch, "transaction-service")
        outcomes = await handler(batch)
        outgoing = batch_spans.outgoing_traceparent(batch[0], "order_confirm")
        batch_spans.finish(batch, outcomes)
        return outcomes, outgoing

    try:
        _outcomes, outgoing = asyncio.run(loop())
    finally:
        logger.removeHandler(lines)

    finished = {
        (s.name, s.attributes.get("messaging.kafka.offset")): s for s in spans.get_finished_spans()
    }  # type: ignore[union-attr]
    process = finished[("order process", 5)]
    assert process.kind is SpanKind.CONSUMER
    assert process.parent is not None and process.parent.span_id == 0xB7AD6B7169203331
    assert trace.format_trace_id(process.context.trace_id) == UPSTREAM_TRACE
    assert process.attributes["messaging.outcome"] == "done"
    charges = [s for s in spans.get_finished_spans() if s.name == "bank charge"]
    assert {c.parent.span_id for c in charges if c.parent} == {
        finished[("order process", 5)].context.span_id,
        finished[("order process", 6)].context.span_id,
    }
    # The second message had no traceparent: a trace of its own, marked failed.
    unparented = finished[("order process", 6)]
    assert unparented.parent is None and unparented.status.status_code is StatusCode.ERROR
    # The produced event continues the trace through a producer span under the consume span.
    publish = next(s for s in spans.get_finished_spans() if s.name == "order_confirm publish")
    assert publish.kind is SpanKind.PRODUCER and publish.parent is not None
    assert publish.parent.span_id == process.context.span_id
    assert outgoing is not None and trace_id_of(outgoing) == UPSTREAM_TRACE
    assert outgoing.split("-")[2] == trace.format_span_id(publish.context.span_id)
    # Each log line names its own order and trace.
    by_order = {line["order_id"]: line for line in lines.lines}
    assert by_order["o-1"]["trace_id"] == UPSTREAM_TRACE
    assert by_order["o-2"]["trace_id"] == trace.format_trace_id(unparented.context.trace_id)


def test_handling_a_message_outside_the_loop_still_continues_its_trace(
    spans: InMemorySpanExporter,
) -> None:
    message = _message(1, "o-3", f"00-{UPSTREAM_TRACE}-b7ad6b7169203331-01")
    with handling_message(message):
        current = trace.get_current_span().get_span_context()
    assert trace.format_trace_id(current.trace_id) == UPSTREAM_TRACE
    [span] = spans.get_finished_spans()
    assert span.name == "order process"


def test_outcomes_missing_still_end_every_span(spans: InMemorySpanExporter) -> None:
    batch = [_message(1, "a", None), _message(2, "b", None)]
    MessageSpans(batch, "g").finish(batch, [Retry("bank unreachable: refused")])
    ended = spans.get_finished_spans()
    assert len(ended) == 2
    assert ended[0].attributes["messaging.outcome"] == "retry"  # type: ignore[index]


def test_a_message_that_is_not_an_event_is_dead_lettered_with_the_codec_s_cause() -> None:
    future = OrderDeclined(order_id="o-1", decline_code="x", reason="y")
    headers = [("event_type", b"OrderDeclined"), ("schema_version", b"2.0")]
    with pytest.raises(InvalidEvent) as unsupported:
        decode(future.model_dump_json().encode(), headers, OrderDeclined)
    with pytest.raises(InvalidEvent) as garbage:
        decode(b"{not json", None, OrderDeclined)
    assert invalid(unsupported.value).cause is Cause.UNSUPPORTED_VERSION
    assert invalid(garbage.value) == DeadLetter(str(garbage.value), cause=Cause.INVALID_EVENT)


def test_retries_and_dead_letters_are_counted_by_their_cause_not_their_text() -> None:
    from kafka_restaurants.messaging.settlement import settle_batch

    group = f"g-{time.time_ns()}"
    labels = {"group": group, "topic": "order", "reason": "unknown_order"}
    before = REGISTRY.get_sample_value("kafka_dead_letters_total", labels) or 0.0
    batch = [_message(0, "o-1", None), _message(1, "o-2", None)]
    # The text says "bank" and "smtp"; the label says what the handler said.
    outcomes: list[Outcome] = [
        DeadLetter("bank smtp database", cause=Cause.UNKNOWN_ORDER),
        Retry("smtp went away", Cause.BANK_ERROR),
    ]
    plan = settle_batch(batch, outcomes, group, lambda _m, _t: None)
    assert REGISTRY.get_sample_value("kafka_dead_letters_total", labels) == before + 1
    assert [retry.cause for _, retry in plan.retries] == [Cause.BANK_ERROR]


@dataclass
class _TP:
    topic: str
    partition: int
    offset: int = -1001


class _FakeConsumer:
    def __init__(self, positions: dict[int, int], highs: dict[int, int]) -> None:
        self.positions = positions
        self.highs = highs

    def assignment(self) -> list[_TP]:
        return [_TP("order", p) for p in self.highs]

    def position(self, partitions: list[_TP]) -> list[_TP]:
        return [
            _TP(tp.topic, tp.partition, self.positions.get(tp.partition, -1001))
            for tp in partitions
        ]

    def get_watermark_offsets(self, tp: _TP, cached: bool = False) -> tuple[int, int]:
        assert cached, "sampling must not ask the broker"
        return 0, self.highs[tp.partition]


def _lag(group: str, partition: int) -> float | None:
    return REGISTRY.get_sample_value(
        "kafka_consumer_lag", {"group": group, "topic": "order", "partition": str(partition)}
    )


def test_lag_is_high_watermark_minus_position_per_partition() -> None:
    sampler = LagSampler("lag-test", interval=0)
    sampler.maybe_sample(_FakeConsumer({0: 10, 1: 7}, {0: 15, 1: 7, 2: 4}))
    assert (_lag("lag-test", 0), _lag("lag-test", 1), _lag("lag-test", 2)) == (5.0, 0.0, None)
    # partition 0 revoked: its series goes away rather than freezing at its last value
    sampler.maybe_sample(_FakeConsumer({1: 7}, {1: 9}))
    assert (_lag("lag-test", 0), _lag("lag-test", 1)) == (None, 2.0)


def test_lag_sampling_is_throttled_and_never_raises() -> None:
    class Broken:
        def assignment(self) -> list[_TP]:
            raise RuntimeError("closed")

    sampler = LagSampler("lag-test-2", interval=60)
    sampler.maybe_sample(Broken())  # swallowed
    sampler.maybe_sample(_FakeConsumer({0: 1}, {0: 3}))  # too soon: skipped
    assert _lag("lag-test-2", 0) is None
