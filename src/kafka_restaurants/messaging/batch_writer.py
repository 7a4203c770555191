"""Writing a handled batch to Kafka: the records its outcomes call for and the consumed offsets.

A transactional consumer produces the records and commits the offsets in one Kafka transaction,
so both happen or neither does. The others produce the records, wait until every one is
acknowledged, and only then store the offsets, which librdkafka commits in the background
(`ConsumerSettings.commit_interval`). Either way, `write` answering False means no part of the
batch counts as done: the loop rewinds and handles it again.
"""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from kafka_restaurants.messaging.producer import Record

log = logging.getLogger(__name__)


class BatchWriter:
    """Owns the consumer's producer and carries out one batch's writes."""

    def __init__(self, producer_config: dict[str, object], transactional: bool) -> None:
        self._config = producer_config
        self.transactional = transactional
        # Set by the client error callback when every broker went away (see `write`).
        self.cluster_was_down = False
        self._producer = self._new_producer()

    def write(
        self, consumer: Consumer, records: list[Record], offsets: list[TopicPartition]
    ) -> bool:
        """Produce `records` and commit (or store) `offsets`; False: redo the batch."""
        if self.transactional:
            return self._in_transaction(consumer, records, offsets)
        return self._after_delivery(consumer, records, offsets)

    def flush(self, timeout: float) -> None:
        self._producer.flush(timeout)

    def _new_producer(self) -> Producer:
        producer = Producer(self._config)
        if self.transactional:
            producer.init_transactions(60)
        return producer

    def _renew_after_outage(self) -> None:
        # A transactional producer that lived through the whole cluster going away can block
        # in send_offsets_to_transaction (stale coordinator); a fresh one starts clean.
        if not (self.cluster_was_down and self.transactional):
            return
        log.info("cluster was unreachable; renewing the transactional producer")
        self.cluster_was_down = False
        self._producer.flush(5)
        self._producer = self._new_producer()

    def _in_transaction(
        self, consumer: Consumer, records: list[Record], offsets: list[TopicPartition]
    ) -> bool:
        self._renew_after_outage()
        producer = self._producer
        try:
            producer.begin_transaction()
            for record in records:
                producer.produce(
                    record.topic, value=record.value, key=record.key, headers=list(record.headers)
                )
            producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 10)
            producer.commit_transaction(30)
            return True
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            if error.txn_requires_abort() or error.retriable():
                log.warning("transaction aborted, will redo the batch: %s", error)
                producer.abort_transaction(60)
                return False
            raise

    def _after_delivery(
        self, consumer: Consumer, records: list[Record], offsets: list[TopicPartition]
    ) -> bool:
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(error)

        for record in records:
            self._producer.produce(
                record.topic,
                value=record.value,
                key=record.key,
                headers=list(record.headers),
                on_delivery=delivered,
            )
        if records and self._producer.flush(30) > 0:
            failures.append(KafkaError(KafkaError._TIMED_OUT))
        if failures:
            log.warning("could not produce %d records; will redo the batch", len(failures))
            return False
        try:
            consumer.store_offsets(offsets=offsets)
        except KafkaException as exc:
            # Raised only when none of the batch's partitions is still assigned (a partition
            # revoked alone is skipped): their new owners handle the batch again.
            log.warning("could not store offsets, the partitions moved on: %s", exc)
            return False
        return True
