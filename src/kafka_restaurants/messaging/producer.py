"""Publishing encoded records with an idempotent producer, with per-record delivery results."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message, Producer

from kafka_restaurants.messaging.security import with_security

log = logging.getLogger(__name__)


# Kafka headers as a consumer reads them or a producer writes them.
Headers = Sequence[tuple[str, str | bytes | None]]


@dataclass(frozen=True)
class Record:
    """One record to produce. Key and value are None only in the dead letter of a message
    that had none."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers


class RecordPublisher:
    """acks=all and idempotence: a record acknowledged is on every in-sync replica, once."""

    def __init__(
        self,
        bootstrap_servers: str,
        delivery_timeout_ms: int = 15000,
        security: Mapping[str, str] | None = None,
    ) -> None:
        self._producer = Producer(
            with_security(
                {
                    "bootstrap.servers": bootstrap_servers,
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 2,
                    # Give up on a batch after this long so the caller can keep the rows and retry.
                    "delivery.timeout.ms": delivery_timeout_ms,
                    "reconnect.backoff.max.ms": 1000,
                    "error_cb": lambda error: log.warning("kafka producer: %s", error),
                    "logger": logging.getLogger("librdkafka"),
                },
                security,
            )
        )
        self._timeout_s = delivery_timeout_ms / 1000 + 5

    def publish(self, records: list[Record]) -> list[bool]:
        """Produce `records` and wait; True for each one the cluster acknowledged."""
        results = [False] * len(records)

        def on_delivery(index: int) -> Callable[[KafkaError | None, Message], None]:
            def delivered(error: KafkaError | None, _message: Message) -> None:
                if error is None:
                    results[index] = True
                else:
                    log.warning("could not publish to %s: %s", records[index].topic, error)

            return delivered

        for index, record in enumerate(records):
            while True:
                try:
                    self._producer.produce(
                        record.topic,
                        value=record.value,
                        key=record.key,
                        headers=list(record.headers),
                        on_delivery=on_delivery(index),
                    )
                    break
                except BufferError:  # local queue full: let deliveries drain first
                    self._producer.poll(0.1)
        self._producer.flush(self._timeout_s)
        return results

    def close(self) -> None:
        self._producer.flush(5)
