"""The secured managed broker (`restaurants up --secure`): SASL_SSL with SCRAM, one principal per
service, and each principal allowed only what its service does."""

from __future__ import annotations

import socket
import ssl
import stat
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from kafka_restaurants.events.topics import ORDER, ORDER_CONFIRM, dead_letter_topic
from kafka_restaurants.localbroker.broker import KafkaBroker, create_topics
from kafka_restaurants.localbroker.security import BrokerSecrets
from kafka_restaurants.messaging.consumer import transactional_id
from kafka_restaurants.messaging.principals import (
    MAILER_GROUP,
    TRANSACTIONS_GROUP,
    wanted_acls,
)
from kafka_restaurants.messaging.security import client_security, with_security
from kafka_restaurants.settings import Settings
from tests.fixtures.components import wait_for
from tests.fixtures.kafka import kafka_libs_or_skip, running_broker

pytestmark = pytest.mark.kafka

EVERY_ACL = AclBindingFilter(
    ResourceType.ANY,
    None,  # type: ignore[arg-type]  # None matches any
    ResourcePatternType.ANY,
    None,  # type: ignore[arg-type]
    None,  # type: ignore[arg-type]
    AclOperation.ANY,
    AclPermissionType.ANY,
)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A secured broker of this module's own, with the topics, principals and ACLs."""
    lib_dir = kafka_libs_or_skip()
    with running_broker(tmp_path_factory.mktemp("kafka-secured"), lib_dir, secure=True) as broker:
        create_topics(broker.bootstrap, 2, 1, security=broker.admin_security())
        broker.provision_principals()
        yield broker


def secrets_of(broker: KafkaBroker) -> BrokerSecrets:
    assert broker.secrets is not None
    return broker.secrets


def config_as(broker: KafkaBroker, user: str, **config: Any) -> dict[str, Any]:
    """A client configuration that authenticates as `user`, the way a service's does."""
    security = client_security(secrets_of(broker).settings_for(Settings(), user))
    return with_security({"bootstrap.servers": broker.bootstrap, **config}, security)


def produce_error(broker: KafkaBroker, user: str, topic: str) -> KafkaError | None:
    """Produce one record to `topic` as `user` (idempotent, like our producers): the outcome."""
    producer = Producer(
        config_as(broker, user, **{"enable.idempotence": True, "message.timeout.ms": 10000})
    )
    outcome: list[KafkaError | None] = []
    producer.produce(topic, key=b"k", value=b"v", on_delivery=lambda err, _msg: outcome.append(err))
    producer.flush(20)
    assert len(outcome) == 1, "no delivery report"
    return outcome[0]


def first_consume_error(broker: KafkaBroker, user: str, group: str, topic: str) -> KafkaError:
    consumer = Consumer(
        config_as(broker, user, **{"group.id": group, "auto.offset.reset": "earliest"})
    )
    consumer.subscribe([topic])
    try:

        def an_error() -> KafkaError | None:
            message = consumer.poll(0.5)
            return message.error() if message is not None else None

        error = wait_for(an_error, timeout=30, what=f"{user} refused on {topic}")
        assert isinstance(error, KafkaError)
        return error
    finally:
        consumer.close()


def test_the_listener_speaks_sasl_ssl_only(secured: KafkaBroker) -> None:
    text = secured.properties_path.read_text()
    assert f"listeners=SASL_SSL://127.0.0.1:{secured.port}," in text
    assert "PLAINTEXT://" not in text
    assert "allow.everyone.if.no.acl.found=false" in text
    plain = AdminClient({"bootstrap.servers": secured.bootstrap, "log_level": 0})
    with pytest.raises(KafkaException):
        plain.list_topics(timeout=5)


def test_a_wrong_password_is_refused(secured: KafkaBroker) -> None:
    errors: list[KafkaError] = []
    config = config_as(secured, "mailer", error_cb=errors.append, log_level=0)
    config["sasl.password"] = "not-the-password"
    admin = AdminClient(config)
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)

    def refused() -> bool:
        admin.poll(0.2)  # serves error_cb
        return any(e.code() == KafkaError._AUTHENTICATION for e in errors)

    wait_for(refused, what="an authentication error")
    [first, *_] = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
    assert "Authentication failed" in str(first) and "not-the-password" not in str(errors)


def test_the_mailer_cannot_write_confirmations_or_read_orders(secured: KafkaBroker) -> None:
    produced = produce_error(secured, "mailer", ORDER_CONFIRM)
    assert produced is not None and produced.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

    consumed = first_consume_error(secured, "mailer", MAILER_GROUP, ORDER)
    assert consumed.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_the_api_cannot_read_orders_and_the_mailer_cannot_use_another_group(
    secured: KafkaBroker,
) -> None:
    consumed = first_consume_error(secured, "api", f"api-{uuid.uuid4().hex}", ORDER)
    assert consumed.code() in {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
    }
    other_group = first_consume_error(secured, "mailer", TRANSACTIONS_GROUP, ORDER_CONFIRM)
    assert other_group.code() == KafkaError.GROUP_AUTHORIZATION_FAILED


def test_each_service_may_do_its_own_part(secured: KafkaBroker) -> None:
    assert produce_error(secured, "api", ORDER) is None
    assert produce_error(secured, "mailer", dead_letter_topic(ORDER_CONFIRM)) is None

    # transactions: read `order` in its group, write a result under its transactional id.
    consumer = Consumer(
        config_as(
            secured,
            "transactions",
            **{
                "group.id": TRANSACTIONS_GROUP,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            },
        )
    )
    producer = Producer(
        config_as(
            secured, "transactions", **{"transactional.id": transactional_id(TRANSACTIONS_GROUP)}
        )
    )
    consumer.subscribe([ORDER])
    try:

        def a_message() -> Any:
            message = consumer.poll(0.5)
            if message is not None and message.error() is not None:
                raise AssertionError(f"transactions refused: {message.error()}")
            return message

        wait_for(a_message, timeout=60, what="transactions reads the order")
        producer.init_transactions(30)
        producer.begin_transaction()
        producer.produce(ORDER_CONFIRM, key=b"k", value=b"confirmed")
        producer.send_offsets_to_transaction(
            consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 30
        )
        producer.commit_transaction(30)
    finally:
        consumer.close()

    # mailer: read the confirmation in its own group.
    mailer = Consumer(
        config_as(
            secured,
            "mailer",
            **{
                "group.id": MAILER_GROUP,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
            },
        )
    )
    mailer.subscribe([ORDER_CONFIRM])
    try:

        def confirmation() -> Any:
            message = mailer.poll(0.5)
            if message is not None and message.error() is not None:
                raise AssertionError(f"mailer refused: {message.error()}")
            return message is not None and message.value() == b"confirmed"

        wait_for(confirmation, timeout=60, what="the mailer reads the confirmation")
    finally:
        mailer.close()


def test_transactions_may_use_only_its_own_transactional_ids(secured: KafkaBroker) -> None:
    producer = Producer(config_as(secured, "transactions", **{"transactional.id": "mailer-1"}))
    with pytest.raises(KafkaException) as refused:
        producer.init_transactions(30)
    assert refused.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED


def test_acls_are_exactly_the_table_even_after_a_stray_grant(secured: KafkaBroker) -> None:
    admin = AdminClient(config_as(secured, "admin"))
    stray = AclBinding(
        ResourceType.TOPIC,
        ORDER,
        ResourcePatternType.LITERAL,
        "User:mailer",
        "*",
        AclOperation.READ,
        AclPermissionType.ALLOW,
    )
    admin.create_acls([stray])[stray].result(30)
    assert stray in admin.describe_acls(EVERY_ACL).result(30)

    secured.provision_principals()

    assert set(admin.describe_acls(EVERY_ACL).result(30)) == wanted_acls()


def test_secrets_are_owner_only_and_never_logged(secured: KafkaBroker) -> None:
    secrets = secrets_of(secured)
    private = (secrets.credentials_path, secrets.keystore_path, secrets.tls_dir / "ca.key")
    for path in (*private, secured.properties_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(secrets.directory.stat().st_mode) == 0o700
    assert not (secured.home / "format-arguments").exists()  # the admin's password, read once
    log = (secured.data_dir / "kafka.log").read_text(errors="replace")
    leaked = [user for user, password in secrets.passwords().items() if password in log]
    assert leaked == []


def test_a_restart_keeps_the_ca_credentials_and_acls(tmp_path: Path) -> None:
    lib_dir = kafka_libs_or_skip()
    with running_broker(tmp_path, lib_dir, secure=True) as broker:
        create_topics(broker.bootstrap, 1, 1, security=broker.admin_security())
        broker.provision_principals()
        passwords = secrets_of(broker).passwords()
        ca = secrets_of(broker).ca_path.read_bytes()
    # New ports, same DATA_DIR: nothing is made again, and the old passwords still work.
    with running_broker(tmp_path, lib_dir, secure=True) as again:
        assert secrets_of(again).passwords() == passwords
        assert secrets_of(again).ca_path.read_bytes() == ca
        assert produce_error(again, "mailer", dead_letter_topic(ORDER_CONFIRM)) is None
        refused = produce_error(again, "mailer", ORDER_CONFIRM)
        assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def api_versions_over_tls(broker: KafkaBroker, context: ssl.SSLContext) -> bytes:
    """Ask the controller listener for its API versions (a request it answers before any
    authorization); the first bytes of its answer."""
    header = struct.pack(">hhih", 18, 0, 1, 4) + b"test"  # ApiVersions v0, correlation 1
    with (
        socket.create_connection(("127.0.0.1", broker.controller_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(struct.pack(">i", len(header)) + header)
        answer = tls.recv(8)
    if not answer:
        raise ConnectionResetError("closed without an answer")
    return answer


def test_the_controller_talks_only_to_the_holder_of_the_broker_key(secured: KafkaBroker) -> None:
    secrets = secrets_of(secured)
    broker_key = ssl.create_default_context(cafile=str(secrets.ca_path))
    broker_key.load_cert_chain(str(secrets.keystore_path))
    answer = api_versions_over_tls(secured, broker_key)
    assert struct.unpack(">ii", answer)[1] == 1  # the answer to correlation id 1

    no_key = ssl.create_default_context(cafile=str(secrets.ca_path))
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        api_versions_over_tls(secured, no_key)
