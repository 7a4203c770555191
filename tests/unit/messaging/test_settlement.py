"""Settling a handled batch: outputs and dead letters to produce, offsets to commit, retries."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kafka_restaurants.events import InvalidEvent, OrderConfirmed, OrderDeclined, decode
from kafka_restaurants.messaging.consumer import delivery
from kafka_restaurants.messaging.outcomes import DeadLetter, Done, Incoming, Outgoing, Retry
from kafka_restaurants.messaging.settlement import settle_batch
from kafka_restaurants.messaging.telemetry import MessageSpans
from tests.unit.mailer.samples import confirmed


def message(partition: int, offset: int) -> Incoming:
    return Incoming("order", partition, offset, b"k", b"v", [("traceparent", b"tp")])


def no_trace(_incoming: Incoming, _topic: str) -> str | None:
    return None


def test_offsets_commit_after_the_last_message_moved_past_per_partition() -> None:
    declined = OrderDeclined(order_id="o-1", decline_code="card_declined", reason="test")
    batch = [message(0, 5), message(1, 9), message(0, 6)]
    outcomes = [Done((Outgoing("order_declined", declined),)), Done(), DeadLetter("bad json")]
    plan = settle_batch(batch, outcomes, "g", no_trace)
    assert {(tp.partition, tp.offset) for tp in plan.offsets} == {(0, 7), (1, 10)}
    assert [record.topic for record in plan.records] == ["order_declined", "order.DLQ"]
    dlq_headers = dict(plan.records[1].headers)
    assert dlq_headers["dlq.error"] == b"bad json"
    assert dlq_headers["dlq.original_offset"] == b"6"
    assert dlq_headers["traceparent"] == b"tp"  # the original headers travel along
    assert plan.retries == []
    assert plan.first_offsets == {("order", 0): 5, ("order", 1): 9}


def test_a_retry_holds_back_the_rest_of_its_partition_only() -> None:
    batch = [message(0, 1), message(0, 2), message(0, 3), message(1, 1)]
    outcomes = [Done(), Retry("bank timeout"), Done(), Done()]
    plan = settle_batch(batch, outcomes, "g", no_trace)
    assert {(tp.partition, tp.offset) for tp in plan.offsets} == {(0, 2), (1, 2)}
    assert [(m.partition, m.offset, r.reason) for m, r in plan.retries] == [(0, 2, "bank timeout")]
    assert [(m.partition, m.offset) for m in plan.moved_past] == [(0, 1), (1, 1)]


def test_nothing_to_commit_when_the_first_message_is_retried() -> None:
    plan = settle_batch([message(0, 4)], [Retry("later")], "g", no_trace)
    assert plan.offsets == [] and plan.records == []


def test_a_dead_letter_names_bad_fields_not_their_values_in_headers_log_and_span(
    spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    event = json.loads(confirmed().model_dump_json())
    event["order"]["customer"]["email"] = "dana@@example.com"
    del event["order"]["total_minor"]  # pydantic would quote the whole order for this one
    bad = Incoming("order_confirm", 0, 3, b"o-1", json.dumps(event).encode(), [])
    try:
        decode(bad.value, bad.headers, OrderConfirmed)
    except InvalidEvent as exc:
        outcome = DeadLetter(str(exc))
    message_spans = MessageSpans([bad], "confirmation-service")
    with caplog.at_level(logging.WARNING, logger="kafka_restaurants.messaging.settlement"):
        plan = settle_batch([bad], [outcome], "confirmation-service", no_trace)
    message_spans.finish([bad], [outcome])

    why = (
        "not a valid OrderConfirmed: order.customer.email: value_error; order.total_minor: missing"
    )
    [record] = plan.records
    headers = record.headers
    logged = [record.getMessage() for record in caplog.records]
    [span] = spans.get_finished_spans()
    assert dict(headers)["dlq.error"] == why.encode()
    assert logged == [f"dead-lettering order_confirm[0]@3: {why}"]
    assert span.status.description == why
    for value in ("dana", "Dizengoff", "Falafel"):
        assert value not in str(headers) + str(logged) + str(span.attributes)


def test_a_retry_on_the_final_attempt_is_dead_lettered_naming_the_attempts() -> None:
    last = replace(message(0, 4), attempt=8, final_attempt=True)
    plan = settle_batch([last, message(0, 5)], [Retry("bank answered 503"), Done()], "g", no_trace)
    assert plan.retries == []
    assert [(tp.partition, tp.offset) for tp in plan.offsets] == [(0, 6)]
    [record] = plan.records
    topic, key, value, headers = record.topic, record.key, record.value, record.headers
    assert (topic, key, value) == ("order.DLQ", b"k", b"v")
    assert dict(headers)["dlq.error"] == b"gave up after 8 attempts: bank answered 503"


def test_a_retry_before_the_final_attempt_is_still_retried() -> None:
    early = replace(message(0, 4), attempt=7, final_attempt=False)
    plan = settle_batch([early], [Retry("bank answered 503")], "g", no_trace)
    assert [(m.offset, r.reason) for m, r in plan.retries] == [(4, "bank answered 503")]
    assert plan.offsets == [] and plan.records == []


def test_a_dead_letter_produces_its_outputs_beside_the_parked_message() -> None:
    failed = OrderDeclined(order_id="o-1", decline_code="payment_failed", reason="not charged")
    outcome = DeadLetter("gave up", outputs=(Outgoing("order_declined", failed),))
    plan = settle_batch([message(0, 2)], [outcome], "g", no_trace)
    assert [record.topic for record in plan.records] == ["order_declined", "order.DLQ"]
    assert decode(plan.records[0].value, plan.records[0].headers, OrderDeclined) == failed
    assert [(tp.partition, tp.offset) for tp in plan.offsets] == [(0, 3)]


def test_the_loop_marks_the_delivery_that_reaches_the_limit_as_final() -> None:
    assert [delivery(message(0, 1), n, 3).final_attempt for n in (1, 2, 3)] == [False, False, True]
    assert delivery(message(0, 1), 2, 3).attempt == 2
    assert delivery(message(0, 1), 1, 1).final_attempt  # a limit of one: never retried
