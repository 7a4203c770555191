"""The managed broker's configuration, cluster id, command line and prerequisite checks."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest

from kafka_restaurants.events.topics import ALL_TOPICS
from kafka_restaurants.localbroker import jars as kafka_jars
from kafka_restaurants.localbroker.broker import (
    KafkaBroker,
    MissingPrerequisite,
    check_prerequisites,
    jars_ready,
    kafka_lib_dir,
    new_cluster_id,
    parse_java_major,
    planned_topics,
    server_properties,
)


def parse_properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


@pytest.fixture
def fake_java(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_jars, "java_executable", lambda: "/opt/jdk/bin/java")


def test_server_properties_single_combined_node(tmp_path: Path) -> None:
    props = parse_properties(
        server_properties(
            host="127.0.0.1", port=19092, controller_port=19093, log_dir=tmp_path / "data"
        )
    )

    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"].startswith("PLAINTEXT://127.0.0.1:19092")
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert "controller.quorum.voters" not in props  # dynamic quorum, formatted --standalone


def test_server_properties_fit_one_node_and_fast_tests(tmp_path: Path) -> None:
    props = parse_properties(
        server_properties(host="127.0.0.1", port=1, controller_port=2, log_dir=tmp_path)
    )

    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
        "default.replication.factor",
        "num.partitions",
    ):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "false"


def test_cluster_id_is_22_chars_of_base64url_for_16_bytes() -> None:
    cluster_id = new_cluster_id()

    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id)
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    assert new_cluster_id() != cluster_id


def test_command_line_runs_kafka_with_heap_and_console_logging(
    tmp_path: Path, fake_java: None
) -> None:
    broker = KafkaBroker(data_dir=tmp_path, lib_dir=tmp_path / "libs", heap="384m")

    command = broker.command()

    assert command[0] == "/opt/jdk/bin/java"
    assert "-Xmx384m" in command
    home = (tmp_path / "kafka").resolve()
    assert f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}" in command
    assert f"-Dkafka.logs.dir={home / 'logs'}" in command
    classpath = command[command.index("-cp") + 1]
    assert classpath == f"{(tmp_path / 'libs').resolve()}/*"
    assert command[-2:] == ["kafka.Kafka", str(home / "server.properties")]


def test_broker_from_defaults_has_bootstrap_on_loopback(tmp_path: Path) -> None:
    assert KafkaBroker(data_dir=tmp_path, port=12345).bootstrap == "127.0.0.1:12345"


def test_prepare_on_formatted_storage_only_rewrites_config(
    tmp_path: Path, fake_java: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "kafka_2.13-4.1.0.jar").write_bytes(b"")
    broker = KafkaBroker(data_dir=tmp_path, port=1111, controller_port=1112, lib_dir=libs)
    broker.storage_dir.mkdir(parents=True)
    (broker.storage_dir / "meta.properties").write_text("cluster.id=x\n")

    def no_format(*args: object, **kwargs: object) -> None:
        raise AssertionError("formatted storage must not be formatted again")

    monkeypatch.setattr(subprocess, "run", no_format)
    broker.prepare()
    moved = KafkaBroker(data_dir=tmp_path, port=2221, controller_port=2222, lib_dir=libs)
    moved.prepare()

    props = parse_properties(moved.properties_path.read_text())
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:2221,CONTROLLER://127.0.0.1:2222"
    assert "state.change.logger" in moved.log4j_path.read_text()


def test_prepare_without_jars_says_how_to_get_them(tmp_path: Path, fake_java: None) -> None:
    broker = KafkaBroker(data_dir=tmp_path, lib_dir=tmp_path / "empty")

    with pytest.raises(MissingPrerequisite, match="make setup"):
        broker.prepare()


def test_cluster_id_is_kept_across_calls(tmp_path: Path) -> None:
    broker = KafkaBroker(data_dir=tmp_path)

    first = broker.cluster_id()

    assert KafkaBroker(data_dir=tmp_path).cluster_id() == first
    assert (tmp_path / "kafka" / "cluster.id").read_text().strip() == first


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_292"', 8),
        ("no java here", None),
    ],
)
def test_parse_java_major(output: str, major: int | None) -> None:
    assert parse_java_major(output) == major


def test_lib_dir_is_under_the_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KAFKA_LIB_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kafka_lib_dir("4.1.0") == tmp_path / "kafka-restaurants" / "kafka_2.13-4.1.0" / "libs"

    monkeypatch.setenv("KAFKA_LIB_DIR", str(tmp_path / "mine"))
    assert kafka_lib_dir("4.1.0") == tmp_path / "mine"


def test_half_finished_jar_copy_is_not_ready(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KAFKA_LIB_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    libs = kafka_lib_dir("9.9.9")
    libs.mkdir(parents=True)
    (libs / "kafka_2.13-9.9.9.jar").write_bytes(b"")
    assert not jars_ready("9.9.9")

    (libs / ".resolved").write_text("some other pom\n")
    assert not jars_ready("9.9.9")


def test_missing_java_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_jars, "java_executable", lambda: None)

    with pytest.raises(MissingPrerequisite, match=r"Java 17 or newer.*openjdk-17-jre-headless"):
        check_prerequisites("4.1.0")


def test_old_java_is_refused(monkeypatch: pytest.MonkeyPatch, fake_java: None) -> None:
    monkeypatch.setattr(kafka_jars, "_java_major", lambda java: 11)

    with pytest.raises(MissingPrerequisite, match=r"Java 11 was found"):
        check_prerequisites("4.1.0")


def test_maven_required_only_while_jars_are_missing(
    monkeypatch: pytest.MonkeyPatch, fake_java: None, tmp_path: Path
) -> None:
    monkeypatch.setattr(kafka_jars, "_java_major", lambda java: 17)
    monkeypatch.setattr(kafka_jars.shutil, "which", lambda name: None)
    monkeypatch.delenv("KAFKA_LIB_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    with pytest.raises(MissingPrerequisite, match=r"Maven.*apt-get install maven"):
        check_prerequisites("9.9.9")

    monkeypatch.setattr(kafka_jars, "jars_ready", lambda version: True)
    check_prerequisites("9.9.9")


def test_planned_topics_cover_every_topic_and_dead_letter_topic() -> None:
    plan = planned_topics(order_partitions=6, topic_partitions=3)

    assert set(plan) == set(ALL_TOPICS)
    assert plan["order"] == 6
    assert plan["order_confirm"] == plan["order_declined"] == plan["order.DLQ"] == 3


def test_planned_topics_refuse_zero_partitions() -> None:
    with pytest.raises(ValueError, match="order_partitions=0"):
        planned_topics(order_partitions=0, topic_partitions=3)
