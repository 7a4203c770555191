"""Inspecting and replaying dead letters: the `.DLQ` topic of each consumed topic."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import cast

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from kafka_restaurants.events.topics import dead_letter_topic
from kafka_restaurants.messaging.security import with_security

REPLAY_GROUP_PREFIX = "dlq-replay-"


@dataclass(frozen=True)
class DeadLetterMessage:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", errors="replace")
        return ""

    @property
    def original_headers(self) -> list[tuple[str, str | bytes | None]]:
        """The headers the message had before it was dead-lettered."""
        return [(k, v) for k, v in self.headers if not k.startswith("dlq.")]


def _consumer(bootstrap: str, group: str, security: Mapping[str, str] | None) -> Consumer:
    return Consumer(
        with_security(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "isolation.level": "read_committed",
            },
            security,
        )
    )


def _read_to_end(
    consumer: Consumer, topic: str, idle_timeout: float
) -> Iterator[DeadLetterMessage]:
    consumer.subscribe([topic])
    finished: set[int] = set()
    partitions: int | None = None
    idle = 0.0
    while partitions is None or len(finished) < partitions:
        message = consumer.poll(0.5)
        if partitions is None:
            metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if metadata is None or metadata.error is not None:
                raise KafkaException(f"topic {topic} does not exist")
            partitions = len(metadata.partitions)
        if message is None:
            idle += 0.5
            if idle >= idle_timeout:
                return
            continue
        idle = 0.0
        error = message.error()
        if error is not None:
            if error.code() == error._PARTITION_EOF:
                finished.add(message.partition() or 0)
                continue
            raise KafkaException(error)
        yield DeadLetterMessage(
            partition=message.partition() or 0,
            offset=message.offset() or 0,
            key=message.key(),
            value=message.value(),
            headers=[
                (k, v.encode() if isinstance(v, str) else v or b"")
                for k, v in cast(list[tuple[str, str | bytes | None]], message.headers() or [])
            ],
        )


def list_dead_letters(
    bootstrap: str,
    topic: str,
    idle_timeout: float = 5.0,
    security: Mapping[str, str] | None = None,
) -> list[DeadLetterMessage]:
    """Every message in `topic`'s dead-letter topic, without moving any consumer group."""
    consumer = _consumer(bootstrap, f"dlq-list-{uuid.uuid4().hex}", security)
    try:
        return list(_read_to_end(consumer, dead_letter_topic(topic), idle_timeout))
    finally:
        consumer.close()


def replay_dead_letters(
    bootstrap: str,
    topic: str,
    idle_timeout: float = 5.0,
    security: Mapping[str, str] | None = None,
) -> int:
    """Re-publish dead letters not replayed before to `topic`; returns how many.

    A dedicated consumer group remembers how far replay got, so each dead letter goes back once.
    """
    consumer = _consumer(bootstrap, f"{REPLAY_GROUP_PREFIX}{topic}", security)
    producer = Producer(
        with_security({"bootstrap.servers": bootstrap, "enable.idempotence": True}, security)
    )
    replayed = 0
    try:
        for message in _read_to_end(consumer, dead_letter_topic(topic), idle_timeout):
            producer.produce(
                topic, key=message.key, value=message.value, headers=message.original_headers
            )
            if producer.flush(30) != 0:
                raise KafkaException(f"could not re-publish to {topic}")
            consumer.commit(
                offsets=[
                    TopicPartition(dead_letter_topic(topic), message.partition, message.offset + 1)
                ],
                asynchronous=False,
            )
            replayed += 1
    finally:
        consumer.close()
    return replayed
