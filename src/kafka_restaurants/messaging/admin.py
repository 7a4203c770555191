"""Topic administration and readiness checks against any Kafka cluster (managed or external)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from kafka_restaurants.events.topics import MAIN_TOPICS, ORDER, dead_letter_topic
from kafka_restaurants.messaging.security import with_security

log = logging.getLogger(__name__)


def admin_client(bootstrap: str, security: Mapping[str, str] | None = None) -> AdminClient:
    """An admin client of `bootstrap` that notices a broker coming up within a second."""
    return AdminClient(
        with_security(
            {
                "bootstrap.servers": bootstrap,
                # librdkafka backs off up to 10 s between reconnects by default: far too slow to
                # notice a broker that has just come up.
                "reconnect.backoff.ms": 100,
                "reconnect.backoff.max.ms": 500,
                # "Connection refused" while a broker starts is expected, not worth an error line.
                "log_level": 0,
            },
            security,
        )
    )


def wait_until_ready(
    bootstrap: str,
    timeout: float = 60.0,
    is_alive: Callable[[], bool] | None = None,
    security: Mapping[str, str] | None = None,
) -> None:
    """Block until the cluster answers a metadata request with at least one broker.

    `is_alive`, when given, is checked between attempts so a crashed broker fails fast.
    """
    deadline = time.monotonic() + timeout
    admin = admin_client(bootstrap, security)
    last_error: object = "no answer"
    while True:
        if is_alive is not None and not is_alive():
            raise RuntimeError(f"Kafka broker at {bootstrap} exited before it became ready")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(
                f"Kafka at {bootstrap} did not answer metadata requests within {timeout:g}s "
                f"(last error: {last_error})"
            )
        try:
            metadata = admin.list_topics(timeout=min(1.0, remaining))
        except KafkaException as exc:
            last_error = exc.args[0] if exc.args else exc
            continue
        if metadata.brokers:
            return
        last_error = "metadata lists no broker yet"
        time.sleep(0.1)


def describe_topics(
    bootstrap: str, timeout: float = 10.0, security: Mapping[str, str] | None = None
) -> dict[str, int]:
    """Partition count of every non-internal topic in the cluster (that we may see)."""
    metadata = admin_client(bootstrap, security).list_topics(timeout=timeout)
    return {
        name: len(topic.partitions)
        for name, topic in metadata.topics.items()
        if not name.startswith("__") and topic.error is None
    }


def planned_topics(order_partitions: int, topic_partitions: int) -> dict[str, int]:
    """The application's topics and the partition count each should have."""
    if order_partitions < 1 or topic_partitions < 1:
        raise ValueError(
            f"partition counts must be at least 1 (order_partitions={order_partitions}, "
            f"topic_partitions={topic_partitions})"
        )
    plan = {topic: topic_partitions for topic in MAIN_TOPICS}
    plan[ORDER] = order_partitions
    plan.update({dead_letter_topic(topic): topic_partitions for topic in MAIN_TOPICS})
    return plan


def create_topics(
    bootstrap: str,
    order_partitions: int,
    topic_partitions: int,
    timeout: float = 30.0,
    security: Mapping[str, str] | None = None,
) -> None:
    """Create the application's topics and their dead-letter topics; safe to run again."""
    ensure_topics(bootstrap, planned_topics(order_partitions, topic_partitions), timeout, security)


def ensure_topics(
    bootstrap: str,
    wanted: Mapping[str, int],
    timeout: float = 30.0,
    security: Mapping[str, str] | None = None,
) -> None:
    """Make each topic exist with at least the given partition count (never shrinks one)."""
    admin = admin_client(bootstrap, security)
    existing = describe_topics(bootstrap, timeout, security)
    missing = [
        # replication_factor=-1 takes the cluster's default.replication.factor, so the same
        # code suits the one-node dev broker and a real cluster.
        NewTopic(name, num_partitions=count, replication_factor=-1)
        for name, count in wanted.items()
        if name not in existing
    ]
    grow = [
        NewPartitions(name, count)
        for name, count in wanted.items()
        if name in existing and existing[name] < count
    ]
    for name, count in wanted.items():
        if name in existing and existing[name] > count:
            log.info("topic %s keeps %d partitions (%d configured)", name, existing[name], count)
    if missing:
        futures = admin.create_topics(missing, operation_timeout=timeout, request_timeout=timeout)
        _wait_all(futures, timeout, tolerate=KafkaError.TOPIC_ALREADY_EXISTS)
    if grow:
        futures = admin.create_partitions(grow, operation_timeout=timeout, request_timeout=timeout)
        _wait_all(futures, timeout, tolerate=None)
    if missing or grow:
        # The controller answers once the change is committed; brokers learn of it a moment
        # later. Wait for that, so a producer or consumer right after us sees every partition.
        _wait_for_metadata(admin, wanted, timeout)
    for topic in missing:
        log.info("created topic %s with %d partitions", topic.topic, topic.num_partitions)
    for partitions in grow:
        log.info("grew topic %s to %d partitions", partitions.topic, partitions.new_total_count)


def _wait_for_metadata(admin: AdminClient, wanted: Mapping[str, int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        metadata = admin.list_topics(timeout=max(0.1, deadline - time.monotonic()))
        seen = {
            name: len(topic.partitions)
            for name, topic in metadata.topics.items()
            if topic.error is None
        }
        lagging = {name: seen.get(name, 0) for name in wanted if seen.get(name, 0) < wanted[name]}
        if not lagging:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"topics still short of partitions after {timeout:g}s: {lagging}")
        time.sleep(0.05)


def _wait_all(futures: Mapping[str, Future[None]], timeout: float, tolerate: int | None) -> None:
    errors = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            # Another process may create the same topic between our describe and create.
            if isinstance(error, KafkaError) and error.code() == tolerate:
                continue
            errors.append(f"{name}: {error or exc}")
    if errors:
        raise RuntimeError("Kafka topic administration failed: " + "; ".join(errors))
