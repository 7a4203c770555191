"""Deciding what a handled batch means for Kafka: which records to produce, which offsets to
commit, which messages to retry. Pure bookkeeping over the handler's outcomes; the consumer
loop (`consumer.py`) carries the plan out.

Per partition and in offset order: the outputs of the messages before the first `Retry` are
produced, `DeadLetter` messages go to the topic's `.DLQ` with headers saying why (and their
outputs, if any, are produced too), and the offset to commit is the one after the last message
moved past. A `Retry` on a message's final attempt is a `DeadLetter` naming the attempts: retries
are bounded, a partition is never blocked for ever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import TopicPartition
from prometheus_client import Counter

from kafka_restaurants.events.codec import encode
from kafka_restaurants.events.topics import dead_letter_topic
from kafka_restaurants.messaging.outcomes import DeadLetter, Incoming, Outcome, Retry
from kafka_restaurants.messaging.producer import Headers, Record

log = logging.getLogger(__name__)

PartitionKey = tuple[str, int]
# The traceparent an output of `incoming` written to `topic` carries.
TraceparentFor = Callable[[Incoming, str], str | None]

MESSAGES = Counter(
    "kafka_messages_handled_total",
    "Messages handled, by consumer group, topic and outcome",
    ["group", "topic", "outcome"],
)
DEAD_LETTERS = Counter(
    "kafka_dead_letters_total",
    "Messages sent to a dead-letter topic, by reason category",
    ["group", "topic", "reason"],
)


@dataclass
class Settlement:
    """What to do with Kafka after a batch was handled."""

    records: list[Record] = field(default_factory=list)
    offsets: list[TopicPartition] = field(default_factory=list)
    # Where each partition of the batch started, to rewind to if the commit fails.
    first_offsets: dict[PartitionKey, int] = field(default_factory=dict)
    moved_past: list[Incoming] = field(default_factory=list)
    retries: list[tuple[Incoming, Retry]] = field(default_factory=list)


def dead_letter_headers(incoming: Incoming, reason: str, group_id: str) -> Headers:
    """The original headers plus why, where from and when the message was parked."""
    return [
        *incoming.headers,
        ("dlq.error", reason[:4000].encode()),
        ("dlq.original_topic", incoming.topic.encode()),
        ("dlq.original_partition", str(incoming.partition).encode()),
        ("dlq.original_offset", str(incoming.offset).encode()),
        ("dlq.consumer_group", group_id.encode()),
        ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
    ]


def gave_up(incoming: Incoming, outcome: Outcome) -> Outcome:
    """`outcome`, except that a Retry on the message's final attempt becomes a DeadLetter."""
    if isinstance(outcome, Retry) and incoming.final_attempt:
        return DeadLetter(
            f"gave up after {incoming.attempt} attempts: {outcome.reason}", cause=outcome.cause
        )
    return outcome


def settle_batch(
    batch: list[Incoming],
    outcomes: list[Outcome],
    group_id: str,
    traceparent_for: TraceparentFor,
) -> Settlement:
    """The records, offsets and retries that `outcomes` (one per message of `batch`) call for."""
    by_partition: dict[PartitionKey, list[tuple[Incoming, Outcome]]] = {}
    for incoming, outcome in zip(batch, outcomes, strict=True):
        by_partition.setdefault((incoming.topic, incoming.partition), []).append(
            (incoming, outcome)
        )
    plan = Settlement()
    for (topic, partition), items in by_partition.items():
        plan.first_offsets[(topic, partition)] = items[0][0].offset
        next_offset: int | None = None
        for incoming, answered in items:
            outcome = gave_up(incoming, answered)
            if isinstance(outcome, Retry):
                plan.retries.append((incoming, outcome))
                break  # later messages of this partition wait for this one
            MESSAGES.labels(group_id, topic, type(outcome).__name__.lower()).inc()
            for output in outcome.outputs:
                encoded = encode(output.event, traceparent_for(incoming, output.topic))
                plan.records.append(
                    Record(output.topic, encoded.key, encoded.value, encoded.headers)
                )
            if isinstance(outcome, DeadLetter):
                log.warning(
                    "dead-lettering %s[%d]@%d: %s",
                    topic,
                    partition,
                    incoming.offset,
                    outcome.reason,
                )
                DEAD_LETTERS.labels(group_id, topic, outcome.cause).inc()
                plan.records.append(
                    Record(
                        dead_letter_topic(topic),
                        incoming.key,
                        incoming.value,
                        dead_letter_headers(incoming, outcome.reason, group_id),
                    )
                )
            plan.moved_past.append(incoming)
            next_offset = incoming.offset + 1
        if next_offset is not None:
            plan.offsets.append(TopicPartition(topic, partition, next_offset))
    return plan
