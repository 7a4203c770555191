"""Raw Kafka measurements on the broker under test: the round-trip reference and consumer lag.

The reference is by definition plain confluent-kafka with no code of ours in between, which is
why this tool, unlike the services, does not go through `kafka_restaurants.messaging`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_restaurants.localbroker.broker import operator_security
from kafka_restaurants.settings import get_settings

# Consumer groups of the order pipeline and the topic each one reads.
PIPELINE_GROUPS = {"transaction-service": "order", "confirmation-service": "order_confirm"}


@dataclass(frozen=True)
class RoundTrip:
    messages: int
    seconds: float

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def kafka_roundtrip(bootstrap: str, messages: int, payload_bytes: int = 600) -> RoundTrip:
    """Produce `messages` (idempotent, acks=all, like our producers) and consume them all back."""
    topic = f"bench.roundtrip.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap, **operator_security(get_settings())})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
    try:
        return _roundtrip(bootstrap, topic, messages, payload_bytes)
    finally:
        admin.delete_topics([topic])[topic].result(30)


def _roundtrip(bootstrap: str, topic: str, messages: int, payload_bytes: int) -> RoundTrip:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            **operator_security(get_settings()),
            "group.id": f"bench-{topic}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            **operator_security(get_settings()),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
        }
    )
    payload = b"x" * payload_bytes
    received = 0
    began = time.perf_counter()
    try:
        for i in range(messages):
            key = str(i).encode()
            while True:
                try:
                    producer.produce(topic, payload, key=key)
                    break
                except BufferError:
                    producer.poll(0.01)
            if i % 1000 == 0:
                producer.poll(0)
                received += _drain(consumer, 0)
        producer.flush(60)
        deadline = time.perf_counter() + 60
        while received < messages and time.perf_counter() < deadline:
            received += _drain(consumer, 0.5)
    finally:
        consumer.close()
    seconds = time.perf_counter() - began
    if received < messages:
        raise RuntimeError(f"kafka round trip: consumed {received} of {messages} messages")
    return RoundTrip(messages, seconds)


def _drain(consumer: Consumer, timeout: float) -> int:
    got = 0
    for message in consumer.consume(num_messages=10_000, timeout=timeout):
        if message.error() is None:
            got += 1
    return got


class LagProbe:
    """Consumer lag (end offset minus committed offset, all partitions) of the pipeline's groups.

    One consumer per group reads the group's committed offsets without joining it (it never
    subscribes). The admin API's list_consumer_group_offsets crashed the whole process
    (SIGSEGV in confluent-kafka 2.16.1) when asked about a group on a broker whose offsets
    topic did not exist yet, which is the state of a freshly started or restarted broker.
    """

    def __init__(self, bootstrap: str) -> None:
        self.consumers = {
            group: Consumer(
                {
                    "bootstrap.servers": bootstrap,
                    **operator_security(get_settings()),
                    "group.id": group,
                    "enable.auto.commit": False,
                    "log_level": 0,
                }
            )
            for group in PIPELINE_GROUPS
        }
        self.partitions: dict[str, list[int]] = {}

    def _partitions(self, consumer: Consumer, topic: str) -> list[int]:
        if topic not in self.partitions:
            metadata = consumer.list_topics(topic, timeout=5)
            self.partitions[topic] = sorted(metadata.topics[topic].partitions)
        return self.partitions[topic]

    def lag(self) -> dict[str, int | None]:
        """Group name -> total lag, None for a group that could not be read this time."""
        result: dict[str, int | None] = {}
        for group, topic in PIPELINE_GROUPS.items():
            consumer = self.consumers[group]
            try:
                partitions = [TopicPartition(topic, p) for p in self._partitions(consumer, topic)]
                total = 0
                for tp in consumer.committed(partitions, timeout=5):
                    _low, high = consumer.get_watermark_offsets(tp, timeout=5, cached=False)
                    total += max(0, high - max(tp.offset, 0))
                result[group] = total
            except (KafkaException, KeyError, RuntimeError):
                result[group] = None
        return result

    def close(self) -> None:
        for consumer in self.consumers.values():
            consumer.close()
