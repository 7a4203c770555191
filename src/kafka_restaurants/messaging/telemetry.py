"""Telemetry of the shared consumer loop: one consume span per message, one produce span per
event it emits, the handler's work as their child, retry counts and per-partition lag.

Built on `observability` (tracing, logs), which knows nothing of Kafka: the dependency runs
from messaging to observability only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram

from kafka_restaurants.messaging.outcomes import DeadLetter, Done, Incoming, Outcome, Retry
from kafka_restaurants.observability.logs import order_context
from kafka_restaurants.observability.tracing import (
    TRACEPARENT,
    extract_context,
    keep_error,
    trace_id_of,
    traceparent_of,
    tracer,
)

log = logging.getLogger(__name__)

CONSUMER_LAG = Gauge(
    "kafka_consumer_lag",
    "Messages behind the partition's high watermark, by consumer group",
    ["group", "topic", "partition"],
)
MESSAGE_SECONDS = Histogram(
    "kafka_message_processing_seconds",
    "From a message's batch reaching the handler to its outcome being settled",
    ["group", "topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RETRIES = Counter(
    "kafka_retries_total",
    "Messages put back for a later attempt, by consumer group, topic and reason category",
    ["group", "topic", "reason"],
)

MessageKey = tuple[str, int, int]
_BATCH_SPANS: ContextVar[dict[MessageKey, Span] | None] = ContextVar("batch_spans", default=None)


def _key(message: Incoming) -> MessageKey:
    return (message.topic, message.partition, message.offset)


def _order_id(message: Incoming) -> str | None:
    return message.key.decode("utf-8", errors="replace") if message.key else None


class MessageSpans:
    """The consume spans of one batch, from before the handler runs until it is settled."""

    def __init__(self, batch: Sequence[Incoming], group: str) -> None:
        self.group = group
        self.started = time.perf_counter()
        self.started_ns = time.time_ns()
        self.spans: dict[MessageKey, Span] = {}
        traced = tracer()
        for message in batch:
            self.spans[_key(message)] = traced.start_span(
                f"{message.topic} process",
                context=extract_context(message.header(TRACEPARENT)),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": message.topic,
                    "messaging.destination.partition.id": str(message.partition),
                    "messaging.kafka.offset": message.offset,
                    "messaging.consumer.group.name": group,
                    "messaging.kafka.message.key": _order_id(message) or "",
                },
            )
        # Handler coroutines (and threads started with asyncio.to_thread) inherit this.
        _BATCH_SPANS.set(self.spans)

    def outgoing_traceparent(self, incoming: Incoming, topic: str) -> str | None:
        """A produce span for an event emitted while handling `incoming`; its traceparent."""
        parent = self.spans.get(_key(incoming))
        if parent is None:
            return incoming.header(TRACEPARENT)
        span = tracer().start_span(
            f"{topic} publish",
            context=trace.set_span_in_context(parent),
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
            },
        )
        span.end()
        return traceparent_of(span) or incoming.header(TRACEPARENT)

    def finish(self, batch: Sequence[Incoming], outcomes: Sequence[Outcome]) -> None:
        """End every span with the handler's outcome; time each message."""
        elapsed = time.perf_counter() - self.started
        for message, outcome in zip(batch, outcomes, strict=False):
            span = self.spans.pop(_key(message), None)
            MESSAGE_SECONDS.labels(self.group, message.topic).observe(elapsed)
            if span is None:
                continue
            if isinstance(outcome, Done):
                span.set_attribute("messaging.outcome", "done")
            elif isinstance(outcome, Retry):
                span.set_attribute("messaging.outcome", "retry")
                span.set_attribute("messaging.retry.reason", outcome.reason[:300])
            elif isinstance(outcome, DeadLetter):
                span.set_attribute("messaging.outcome", "dead_letter")
                span.set_status(Status(StatusCode.ERROR, outcome.reason[:300]))
                # A trace not sampled still keeps its dead letters.
                keep_error(
                    f"{message.topic} process",
                    SpanKind.CONSUMER,
                    self.started_ns,
                    outcome.reason,
                    {
                        "messaging.system": "kafka",
                        "messaging.destination.name": message.topic,
                        "messaging.consumer.group.name": self.group,
                        "messaging.outcome": "dead_letter",
                    },
                    context=trace.set_span_in_context(span),
                )
            span.end()
        for span in self.spans.values():  # outcomes missing: the loop will complain about it
            span.end()
        self.spans.clear()


@contextmanager
def handling_message(message: Incoming) -> Iterator[None]:
    """Inside: the message's consume span is current and logs name its order and trace.

    Handlers wrap each message's work in this, so outgoing HTTP calls become child spans.
    Outside the consumer loop (a test calling a handler) it makes a span of its own.
    """
    spans = _BATCH_SPANS.get()
    span = spans.get(_key(message)) if spans else None
    order_id = _order_id(message)
    fallback_trace = trace_id_of(message.header(TRACEPARENT))
    if span is not None:
        with trace.use_span(span, end_on_exit=False), order_context(order_id, fallback_trace):
            yield
        return
    with (
        tracer().start_as_current_span(
            f"{message.topic} process",
            context=extract_context(message.header(TRACEPARENT)),
            kind=SpanKind.CONSUMER,
        ),
        order_context(order_id, fallback_trace),
    ):
        yield


class LagSampler:
    """Samples each assigned partition's lag (high watermark - position) now and then.

    Uses the client's cached watermarks, which every fetch refreshes: no broker round trip.
    """

    def __init__(self, group: str, interval: float = 1.0) -> None:
        self.group = group
        self.interval = interval
        self._next = 0.0
        self._reported: set[tuple[str, int]] = set()

    def maybe_sample(self, consumer: Any) -> None:
        """Update the lag gauges if `interval` has passed; never raises."""
        now = time.monotonic()
        if now < self._next or consumer is None:
            return
        self._next = now + self.interval
        try:
            self._sample(consumer)
        except Exception as exc:  # metrics must never stop the consumer
            log.debug("could not sample consumer lag: %s", exc)

    def _sample(self, consumer: Any) -> None:
        assigned = consumer.assignment()
        seen: set[tuple[str, int]] = set()
        for tp in consumer.position(assigned) if assigned else []:
            _low, high = consumer.get_watermark_offsets(tp, cached=True)
            if high < 0 or tp.offset < 0:
                continue  # nothing fetched yet: the lag is not known
            seen.add((tp.topic, tp.partition))
            CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(
                max(high - tp.offset, 0)
            )
        assigned_keys = {(tp.topic, tp.partition) for tp in assigned or []}
        for topic, partition in self._reported - assigned_keys:  # revoked: stop reporting it
            CONSUMER_LAG.remove(self.group, topic, str(partition))
        self._reported = (self._reported & assigned_keys) | seen
