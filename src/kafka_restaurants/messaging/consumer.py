"""The consumer loop every Kafka-consuming process shares.

A handler gets a batch of messages and answers one Outcome per message. `settlement.py` turns
the outcomes into records to produce and offsets to commit, and `batch_writer.py` writes them:
in transactional mode outputs, dead letters and offsets commit in one Kafka transaction;
otherwise offsets are stored only after every produced record is acknowledged, and committed in
the background (`commit_interval`). The loop pauses a partition at a retried message until its
backoff has passed; other partitions keep flowing. Each message gets at most `max_attempts`
deliveries: the handler sees which attempt it has (`Incoming.attempt`, `final_attempt`), and a
Retry on the final one is dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from prometheus_client import Histogram

from kafka_restaurants.messaging.backoff import backoff_seconds
from kafka_restaurants.messaging.batch_writer import BatchWriter
from kafka_restaurants.messaging.commit_watch import CommitWatch
from kafka_restaurants.messaging.outcomes import Incoming, Outcome, Retry
from kafka_restaurants.messaging.producer import Headers
from kafka_restaurants.messaging.security import with_security
from kafka_restaurants.messaging.settlement import (
    MESSAGES,
    PartitionKey,
    gave_up,
    settle_batch,
)
from kafka_restaurants.messaging.telemetry import (
    RETRIES,
    LagSampler,
    MessageSpans,
)
from kafka_restaurants.observability.tracing import TRACEPARENT

log = logging.getLogger(__name__)
# librdkafka's own log lines go through logging (and so the JSON formatter), not raw stderr.
CLIENT_LOG = logging.getLogger("librdkafka")

Handler = Callable[[list[Incoming]], Awaitable[list[Outcome]]]

BATCH_SECONDS = Histogram(
    "kafka_batch_processing_seconds", "Time to handle one consumed batch", ["group"]
)


STALLED_EXIT_CODE = 75


def exit_process(reason: str) -> None:
    """Crash-only recovery: leave the process so its supervisor starts a fresh one."""
    log.critical("%s; exiting so a fresh process takes over", reason)
    logging.shutdown()
    os._exit(STALLED_EXIT_CODE)


@dataclass(frozen=True)
class ConsumerSettings:
    """How one consumer process reads, and whether it writes transactionally."""

    bootstrap_servers: str
    group_id: str
    topics: tuple[str, ...]
    transactional: bool = False
    max_batch: int = 200
    poll_timeout: float = 0.2
    # After a batch's first message, how long to wait for more before handling it. Every
    # transaction costs the broker about eight requests and a bank call whatever it carries,
    # so a short wait makes each one carry several orders (at 50 orders/s, 20 ms halved the
    # broker's requests); 0 handles whatever has already arrived at once.
    batch_linger: float = 0.0
    # Non-transactional consumers: a handled batch's offsets are stored once its outputs are
    # acknowledged, and librdkafka commits what is stored this often (and on a rebalance and
    # on close) instead of one blocking commit per batch. While commits succeed, a crash
    # replays about this much more than before, which the handlers already take
    # (at-least-once, idempotent); commits that stop succeeding are caught as stalls.
    commit_interval: float = 0.2
    backoff_base: float = 0.2
    backoff_cap: float = 30.0
    # Deliveries of one message before a Retry becomes a dead letter (MAX_DELIVERY_ATTEMPTS).
    # Counted per process: a restart or rebalance starts the count again, which only delays
    # the end, never drops a message.
    max_attempts: int = 12
    # A commit that takes longer than this is treated as stuck for good (commit_watch.py).
    commit_stall_seconds: float = 60.0
    # librdkafka security options (`client_security(settings)`), for consumer and producer.
    security: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)


# How long a silent member (killed, or paused) keeps its partitions; see run_async.
SESSION_TIMEOUT_SECONDS = 10.0


def transactional_id(group_id: str) -> str:
    """This process's transactional id: unique per host and process, prefixed by the group.

    The prefix `{group_id}-` is what a Kafka ACL grants (a prefixed TransactionalId).
    """
    return f"{group_id}-{socket.gethostname()}-{os.getpid()}"


@dataclass
class _Paused:
    offset: int
    resume_at: float


def to_incoming(message: Message) -> Incoming:
    """Copy what handlers need out of a client message."""
    # A consumed message's headers are always a list of pairs (dicts only go into produce).
    raw_headers = cast(Headers, message.headers() or [])
    return Incoming(
        topic=message.topic() or "",
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        key=message.key(),
        value=message.value(),
        headers=[
            (name, value.encode() if isinstance(value, str) else value)
            for name, value in raw_headers
        ],
    )


def delivery(incoming: Incoming, attempt: int, max_attempts: int) -> Incoming:
    """`incoming` as its `attempt`-th delivery (1-based) under a limit of `max_attempts`."""
    return replace(incoming, attempt=attempt, final_attempt=attempt >= max_attempts)


class EventConsumer:
    """Runs a handler over a consumer group until `stop()` is called."""

    def __init__(
        self,
        settings: ConsumerSettings,
        handler: Handler,
        on_stall: Callable[[str], None] = exit_process,
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.on_stall = on_stall
        self._commits = CommitWatch(
            settings.group_id, settings.commit_stall_seconds, settings.commit_interval, on_stall
        )
        self._stopping = False
        self._running = False
        self._paused: dict[PartitionKey, _Paused] = {}
        self._reassigned = False  # a rebalance assigned partitions: lift stale pauses
        self._attempts: dict[tuple[str, int, int], int] = {}
        self._consumer: Consumer | None = None
        self._writer: BatchWriter | None = None
        self._spans: MessageSpans | None = None
        self._lag = LagSampler(settings.group_id)

    @property
    def running(self) -> bool:
        return self._running

    def stop(self) -> None:
        """Finish the current batch, then leave the group and return from run()."""
        self._stopping = True

    def run(self) -> None:
        """Consume until stopped (blocking)."""
        asyncio.run(self.run_async())

    async def run_async(self) -> None:
        s = self.settings
        self._writer = BatchWriter(self._producer_config(), s.transactional)
        self._consumer = Consumer(
            with_security(
                {
                    "bootstrap.servers": s.bootstrap_servers,
                    "group.id": s.group_id,
                    "client.id": f"{s.group_id}-{socket.gethostname()}",
                    # Only offsets the loop stores are committed (see commit_interval).
                    "enable.auto.commit": not s.transactional,
                    "enable.auto.offset.store": False,
                    "auto.commit.interval.ms": max(1, round(s.commit_interval * 1000)),
                    "on_commit": self._commits.on_commit,
                    "auto.offset.reset": "earliest",
                    # Only see what upstream transactions committed.
                    "isolation.level": "read_committed",
                    "partition.assignment.strategy": "cooperative-sticky",
                    # A killed member's partitions wait for its session to expire: 45 s by
                    # default, which the chaos run saw as a 45 s stall of every email after
                    # a broker restart brought back the members of processes killed before.
                    # Heartbeats come from librdkafka's own thread, so a busy handler does not
                    # miss them; a paused process (SIGSTOP) is fenced after 10 s, as it should.
                    "session.timeout.ms": int(SESSION_TIMEOUT_SECONDS * 1000),
                    "heartbeat.interval.ms": 2_000,
                    "error_cb": self._on_client_error,
                    "logger": CLIENT_LOG,
                },
                s.security,
            )
        )
        self._consumer.subscribe(
            list(s.topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        self._running = True
        log.info("consuming %s as group %s", ",".join(s.topics), s.group_id)
        self._commits.start()
        try:
            while not self._stopping:
                self._resume_reassigned()
                self._resume_due()
                batch = self._usable(self._next_messages())
                if batch:
                    started = time.perf_counter()
                    self._spans = MessageSpans(batch, s.group_id)
                    answered = await self.handler(batch)
                    if len(answered) != len(batch):
                        raise RuntimeError("handler must answer one outcome per message")
                    outcomes = [gave_up(m, o) for m, o in zip(batch, answered, strict=True)]
                    self._settle(batch, outcomes)
                    self._spans.finish(batch, outcomes)
                    BATCH_SECONDS.labels(s.group_id).observe(time.perf_counter() - started)
                self._lag.maybe_sample(self._consumer)
        finally:
            # close() commits what is stored and leaves the group: watched like any commit.
            try:
                with self._commits.blocking():
                    self._consumer.close()
            finally:
                self._commits.stop()
                self._running = False
            self._writer.flush(10)

    # -- reading ------------------------------------------------------------------------------

    def _next_messages(self) -> list[Message]:
        # consume(n, timeout) waits until it has n messages or the timeout passes, so on a
        # quiet topic every message would wait the whole poll timeout. Wait for one instead,
        # then take whatever else is already fetched: batches still grow with the load.
        s = self.settings
        assert self._consumer is not None
        first = self._consumer.consume(1, s.poll_timeout)
        if not first or s.max_batch == 1:
            return first
        return first + self._consumer.consume(s.max_batch - 1, s.batch_linger)

    def _usable(self, messages: list[Message]) -> list[Incoming]:
        batch: list[Incoming] = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal():
                    raise KafkaException(error)
                log.warning("consumer error: %s", error)
                continue
            incoming = to_incoming(message)
            paused = self._paused.get((incoming.topic, incoming.partition))
            if paused is not None and incoming.offset >= paused.offset:
                continue  # fetched before the pause; it will come again after the backoff
            batch.append(self._with_attempt(incoming))
        return batch

    def _with_attempt(self, incoming: Incoming) -> Incoming:
        retried = self._attempts.get((incoming.topic, incoming.partition, incoming.offset), 0)
        return delivery(incoming, retried + 1, self.settings.max_attempts)

    def _resume_due(self) -> None:
        now = time.monotonic()
        due = [key for key, paused in self._paused.items() if paused.resume_at <= now]
        if due and self._consumer is not None:
            self._consumer.resume([TopicPartition(topic, partition) for topic, partition in due])
            for key in due:
                del self._paused[key]

    def _on_assign(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        self._reassigned = True

    def _resume_reassigned(self) -> None:
        """After a rebalance, resume every assigned partition no retry is holding.

        librdkafka keeps a partition's pause through a rebalance that takes it away and gives
        it back, while _on_revoke forgets the retry that paused it: nothing resumed it again,
        and every mailer stayed silent for good after a chaos run's broker restart.
        """
        if not self._reassigned or self._consumer is None:
            return
        self._reassigned = False
        idle = [
            tp for tp in self._consumer.assignment() if (tp.topic, tp.partition) not in self._paused
        ]
        if idle:
            self._consumer.resume(idle)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._commits.revoked()
        for tp in partitions:
            self._paused.pop((tp.topic, tp.partition), None)
        gone = {(tp.topic, tp.partition) for tp in partitions}
        for key in [key for key in self._attempts if key[:2] in gone]:
            del self._attempts[key]

    def _producer_config(self) -> dict[str, object]:
        s = self.settings
        config = with_security(
            {
                "bootstrap.servers": s.bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 2,
                "error_cb": self._on_client_error,
                "logger": CLIENT_LOG,
            },
            s.security,
        )
        if s.transactional:
            config["transactional.id"] = transactional_id(s.group_id)
            # A process that dies mid-transaction holds back read_committed readers of the
            # topics it wrote to until the coordinator aborts it: keep that short.
            config["transaction.timeout.ms"] = 30000
        return config

    def _on_client_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN and self._writer is not None:
            self._writer.cluster_was_down = True
        log.warning("kafka client: %s", error)

    # -- settling -----------------------------------------------------------------------------

    def _settle(self, batch: list[Incoming], outcomes: list[Outcome]) -> None:
        plan = settle_batch(batch, outcomes, self.settings.group_id, self._traceparent_for)
        for incoming, retry in plan.retries:
            self._retry_later(incoming, retry)
        for incoming in plan.moved_past:
            self._attempts.pop((incoming.topic, incoming.partition, incoming.offset), None)
        if not plan.offsets:
            return
        assert self._writer is not None and self._consumer is not None
        with self._commits.blocking():
            committed = self._writer.write(self._consumer, plan.records, plan.offsets)
        if not committed:
            self._rewind(plan.first_offsets)
        elif not self.settings.transactional:
            self._commits.stored()

    def _traceparent_for(self, incoming: Incoming, topic: str) -> str | None:
        if self._spans is not None:
            return self._spans.outgoing_traceparent(incoming, topic)
        return incoming.header(TRACEPARENT)

    def _retry_later(self, incoming: Incoming, retry: Retry) -> None:
        assert self._consumer is not None
        key = (incoming.topic, incoming.partition, incoming.offset)
        attempt = self._attempts.get(key, 0)
        self._attempts[key] = attempt + 1
        delay = backoff_seconds(attempt, self.settings.backoff_base, self.settings.backoff_cap)
        MESSAGES.labels(self.settings.group_id, incoming.topic, "retry").inc()
        RETRIES.labels(self.settings.group_id, incoming.topic, retry.cause).inc()
        log.warning(
            "retrying %s[%d]@%d in %.2fs (attempt %d): %s",
            incoming.topic,
            incoming.partition,
            incoming.offset,
            delay,
            attempt + 1,
            retry.reason,
        )
        tp = TopicPartition(incoming.topic, incoming.partition, incoming.offset)
        self._consumer.pause([tp])
        self._consumer.seek(tp)
        self._paused[(incoming.topic, incoming.partition)] = _Paused(
            incoming.offset, time.monotonic() + delay
        )

    def _rewind(self, first_offsets: dict[PartitionKey, int]) -> None:
        assert self._consumer is not None
        for (topic, partition), offset in first_offsets.items():
            paused = self._paused.get((topic, partition))
            target = min(offset, paused.offset) if paused else offset
            try:
                self._consumer.seek(TopicPartition(topic, partition, target))
            except KafkaException as exc:  # partition revoked meanwhile: its new owner redoes it
                log.info("could not rewind %s[%d]: %s", topic, partition, exc)
