"""The managed Kafka broker on a real JVM: start, topics, a round trip, and a clean stop."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from kafka_restaurants.events.topics import ALL_TOPICS, ORDER
from kafka_restaurants.localbroker.broker import KafkaBroker, create_topics, describe_topics
from tests.fixtures.components import wait_for
from tests.fixtures.kafka import distinct_free_ports, kafka_libs_or_skip, running_broker

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A broker of this module's own (not the session one), so stopping it harms nobody."""
    lib_dir = kafka_libs_or_skip()
    with running_broker(tmp_path_factory.mktemp("kafka-own"), lib_dir) as broker:
        yield broker


def test_managed_broker_answers_and_keeps_its_files_in_data_dir(own_broker: KafkaBroker) -> None:
    assert own_broker.is_running()
    assert own_broker.formatted
    assert own_broker.cluster_id_path.is_file()
    assert own_broker.properties_path.is_file()
    assert _listening(own_broker.port)
    assert f"PLAINTEXT://127.0.0.1:{own_broker.port}" in own_broker.properties_path.read_text()
    assert (own_broker.storage_dir / "meta.properties").is_file()


def test_topics_exist_with_configured_partitions(own_broker: KafkaBroker) -> None:
    create_topics(own_broker.bootstrap, order_partitions=4, topic_partitions=2)

    topics = describe_topics(own_broker.bootstrap)

    assert {name: topics.get(name) for name in ALL_TOPICS} == {
        "order": 4,
        "order_confirm": 2,
        "order_declined": 2,
        "order_status": 2,
        "order.DLQ": 2,
        "order_confirm.DLQ": 2,
        "order_declined.DLQ": 2,
        "order_status.DLQ": 2,
    }


def test_create_topics_is_idempotent_and_grows_partitions(own_broker: KafkaBroker) -> None:
    create_topics(own_broker.bootstrap, order_partitions=4, topic_partitions=2)
    create_topics(own_broker.bootstrap, order_partitions=4, topic_partitions=2)
    create_topics(own_broker.bootstrap, order_partitions=5, topic_partitions=1)

    topics = describe_topics(own_broker.bootstrap)

    assert topics[ORDER] == 5  # grown to the new count
    assert topics["order_confirm"] == 2  # never shrunk


def test_auto_topic_creation_is_off(own_broker: KafkaBroker) -> None:
    producer = Producer({"bootstrap.servers": own_broker.bootstrap, "message.timeout.ms": 3000})
    failures: list[object] = []

    producer.produce("no-such-topic", b"x", on_delivery=lambda err, msg: failures.append(err))
    producer.flush(10)

    assert failures and failures[0] is not None
    assert "no-such-topic" not in describe_topics(own_broker.bootstrap)


def test_produce_consume_round_trip(kafka_bootstrap: str, unique_topic: str) -> None:
    order_id = str(uuid.uuid4())
    delivered: list[object] = []
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all"})
    producer.produce(
        unique_topic,
        key=order_id,
        value=b'{"hello": "kafka"}',
        headers={"event_type": b"test"},
        on_delivery=lambda err, msg: delivered.append(err),
    )
    assert producer.flush(30) == 0
    assert delivered == [None]

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"test-{order_id}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([unique_topic])
    try:
        message: Any = wait_for(
            lambda: _next_message(consumer), timeout=60, what="the produced message"
        )
    finally:
        consumer.close()

    assert message.key() == order_id.encode()
    assert message.value() == b'{"hello": "kafka"}'
    assert dict(message.headers()) == {"event_type": b"test"}


def _next_message(consumer: Consumer) -> object:
    message = consumer.poll(1.0)
    if message is None:
        return None
    if message.error():
        raise AssertionError(f"consumer error: {message.error()}")
    return message


def test_stop_leaves_no_process_and_frees_the_port(tmp_path: Path) -> None:
    lib_dir = kafka_libs_or_skip()
    with running_broker(tmp_path, lib_dir) as broker:
        pid = broker.pid
        assert pid is not None and _alive(pid)
        broker.stop()

        assert not broker.is_running()
        assert not _alive(pid)
        assert not _listening(broker.port)
        assert not _listening(broker.controller_port)


def test_restart_keeps_cluster_id_and_topics(tmp_path: Path) -> None:
    lib_dir = kafka_libs_or_skip()
    with running_broker(tmp_path, lib_dir) as broker:
        create_topics(broker.bootstrap, order_partitions=3, topic_partitions=1)
        cluster_id = broker.cluster_id()
    # Different ports on the second start: prepare() rewrites the config, formats nothing.
    with running_broker(tmp_path, lib_dir) as again:
        assert again.cluster_id() == cluster_id
        assert describe_topics(again.bootstrap)[ORDER] == 3


def test_a_cluster_id_that_starts_with_a_dash_formats(tmp_path: Path) -> None:
    # One id in 64 starts with "-"; given as a separate argument it read as an option.
    lib_dir = kafka_libs_or_skip()
    layout = KafkaBroker(data_dir=tmp_path, port=0, controller_port=0, lib_dir=lib_dir)
    layout.cluster_id_path.parent.mkdir(parents=True, exist_ok=True)
    layout.cluster_id_path.write_text("-9Kb3ca9FxtItKqMRgSrIg\n")
    with running_broker(tmp_path, lib_dir) as broker:
        assert broker.cluster_id() == "-9Kb3ca9FxtItKqMRgSrIg"
        assert broker.formatted


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purposes once it has been reaped.
    status = Path(f"/proc/{pid}/status")
    return not (status.is_file() and "\nState:\tZ" in status.read_text())


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_broker_that_cannot_start_fails_fast(tmp_path: Path) -> None:
    lib_dir = kafka_libs_or_skip()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        controller_port = distinct_free_ports(1)[0]
        broker = KafkaBroker(tmp_path, port=port, controller_port=controller_port, lib_dir=lib_dir)
        broker.start(tmp_path / "kafka.log")
        try:
            started = time.monotonic()
            with pytest.raises(RuntimeError, match="exited before it became ready"):
                broker.wait_until_ready(timeout=120)
            assert time.monotonic() - started < 60
        finally:
            broker.stop()
    assert "Address already in use" in (tmp_path / "kafka.log").read_text()
