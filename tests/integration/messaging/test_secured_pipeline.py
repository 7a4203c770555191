"""The whole order pipeline on the secured broker, started the way a user starts it:
`restaurants up --secure --detach`. Each service talks to Kafka as its own principal, and a
service's credential is refused on a topic it does not own."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from kafka_restaurants.bench.system import system_env
from kafka_restaurants.events.topics import ORDER, ORDER_CONFIRM
from kafka_restaurants.messaging.principals import MAILER_GROUP
from kafka_restaurants.messaging.security import client_security, with_security
from kafka_restaurants.settings import Settings
from tests.e2e.conftest import CLI, RunningSystem, running_system
from tests.e2e.test_system import CARD, messages_to, place
from tests.fixtures.components import wait_for
from tests.fixtures.kafka import kafka_libs_or_skip

pytestmark = pytest.mark.kafka

KAFKA_ENV = (
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CA_LOCATION",
)


@pytest.fixture(scope="module")
def secured_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    """Everything running on the secured broker; stopped (and checked stopped) at the end."""
    kafka_libs_or_skip()
    data_dir = tmp_path_factory.mktemp("secured-system")
    # One web replica: the pipeline is what this test is about, and the machine is shared.
    env = system_env(data_dir, WEB_REPLICAS="1")
    for name in (*KAFKA_ENV, "KAFKA_SECURE"):
        env.pop(name, None)
    with running_system(data_dir, env, "--secure") as running:
        yield running


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    pairs = (entry.decode(errors="replace").split("=", 1) for entry in raw if b"=" in entry)
    return {key: value for key, value in pairs}


def kafka_settings_of(system: RunningSystem, process: str) -> Settings:
    """The Kafka client settings `process` runs with, read from its own environment."""
    env = environment_of(system.pid_of(process))
    return Settings.model_validate({k: v for k, v in env.items() if k in KAFKA_ENV})


def bootstrap_of(system: RunningSystem) -> str:
    return f"127.0.0.1:{system.env['KAFKA_PORT']}"


def test_an_order_is_charged_confirmed_and_mailed(secured_system: RunningSystem) -> None:
    email = f"secured-{time.monotonic_ns()}@example.com"
    order_id = place(secured_system, str(CARD["number"]), email)

    wait_for(
        lambda: (
            httpx.get(f"{secured_system.api}/orders/{order_id}").json()["status"] == "confirmed"
        ),
        timeout=90,
        what="order confirmed over the secured broker",
    )
    wait_for(lambda: messages_to(secured_system, email), timeout=90, what="confirmation email")
    [message] = messages_to(secured_system, email)
    assert order_id[:8] in message["Subject"]
    assert httpx.get(f"{secured_system.api}/readyz").json()["checks"]["kafka"] == "ok"


def test_a_declined_card_comes_back_to_the_api_declined(secured_system: RunningSystem) -> None:
    order_id = place(secured_system, "4000000000000002", f"no-{time.monotonic_ns()}@example.com")

    def status() -> object:
        order = httpx.get(f"{secured_system.api}/orders/{order_id}").json()
        return order if order["status"] != "pending" else None

    order = wait_for(status, timeout=90, what="order settled over the secured broker")
    assert isinstance(order, dict)
    assert (order["status"], order["decline_code"]) == ("declined", "card_declined")


def test_each_service_runs_as_its_own_principal_and_no_other(
    secured_system: RunningSystem,
) -> None:
    for process in ("api", "transactions", "mailer"):
        env = environment_of(secured_system.pid_of(process))
        assert env["KAFKA_SASL_USERNAME"] == process
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert Path(env["KAFKA_SSL_CA_LOCATION"]).is_file()
    passwords = {
        process: environment_of(secured_system.pid_of(process))["KAFKA_SASL_PASSWORD"]
        for process in ("api", "transactions", "mailer")
    }
    assert len(set(passwords.values())) == 3
    for process in ("bank", "mailbox", "web-1"):
        env = environment_of(secured_system.pid_of(process))
        assert "KAFKA_SASL_PASSWORD" not in env and "KAFKA_SASL_USERNAME" not in env, process


def test_the_mailers_credential_is_refused_on_topics_it_does_not_own(
    secured_system: RunningSystem,
) -> None:
    mailer = client_security(kafka_settings_of(secured_system, "mailer"))
    bootstrap = bootstrap_of(secured_system)

    # Writing a (fake) confirmation.
    producer = Producer(
        with_security(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"}, mailer
        )
    )
    delivered: list[KafkaError | None] = []
    producer.produce(
        ORDER_CONFIRM, key=b"fake", value=b"{}", on_delivery=lambda e, _m: delivered.append(e)
    )
    producer.flush(30)
    assert len(delivered) == 1 and delivered[0] is not None
    assert delivered[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

    # Reading the orders (with their card tokens), in its own consumer group.
    consumer = Consumer(
        with_security(
            {
                "bootstrap.servers": bootstrap,
                "group.id": MAILER_GROUP,
                "auto.offset.reset": "earliest",
            },
            mailer,
        )
    )
    consumer.subscribe([ORDER])
    try:

        def refusal() -> KafkaError | None:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                raise AssertionError("the mailer read an order")
            return message.error() if message is not None else None

        error = wait_for(refusal, timeout=30, what="the mailer refused on `order`")
    finally:
        consumer.close()
    assert isinstance(error, KafkaError)
    assert error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_nothing_gets_in_without_credentials(secured_system: RunningSystem) -> None:
    plain = AdminClient({"bootstrap.servers": bootstrap_of(secured_system), "log_level": 0})
    with pytest.raises(KafkaException):
        plain.list_topics(timeout=5)


def test_the_operators_tools_run_as_the_admin(secured_system: RunningSystem) -> None:
    operator = {**secured_system.env, "KAFKA_SECURE": "true"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], env=operator, capture_output=True, text=True, timeout=120
        )

    topics = cli("topics")
    assert topics.returncode == 0, topics.stderr
    assert "order_confirm" in topics.stdout and "order.DLQ" in topics.stdout
    listed = cli("dlq", "list", "order")
    assert listed.returncode == 0, listed.stderr
    assert "dead letter(s) in order.DLQ" in listed.stdout


def test_no_kafka_password_reaches_a_log_or_any_file_but_the_secrets(
    secured_system: RunningSystem,
) -> None:
    secrets = secured_system.data_dir / "kafka-secure" / "security"
    passwords = json.loads((secrets / "credentials.json").read_text())
    # The broker's own config holds the admin's (for its inter-broker login), mode 0600 too.
    allowed = {
        secrets / "credentials.json",
        secured_system.data_dir / "kafka-secure" / "server.properties",
    }
    leaks = []
    for path in secured_system.data_dir.rglob("*"):
        if not path.is_file() or path in allowed:
            continue
        content = path.read_bytes()
        leaks += [f"{user} in {path}" for user, pw in passwords.items() if pw.encode() in content]
    assert leaks == []
    assert (secured_system.data_dir / "log" / "kafka.log").stat().st_size > 0
