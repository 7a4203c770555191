"""The secured managed broker's files, server settings and per-service client settings."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from kafka_restaurants.localbroker.broker import (
    KafkaBroker,
    managed_secrets,
    operator_settings,
    service_kafka_env,
)
from kafka_restaurants.localbroker.security import BrokerSecrets
from kafka_restaurants.messaging.security import client_security
from kafka_restaurants.settings import Settings

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")


def settings(data_dir: Path, **fields: object) -> Settings:
    return Settings.model_validate({"DATA_DIR": str(data_dir), **fields})


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> BrokerSecrets:
    """Secrets made once for this module (openssl makes a CA and a certificate)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl")
    secrets = BrokerSecrets(tmp_path_factory.mktemp("secured") / "kafka-secure" / "security")
    secrets.ensure(hosts=("127.0.0.1",))
    return secrets


def test_secrets_are_made_once_and_owner_only(made: BrokerSecrets) -> None:
    before = made.passwords()
    ca = made.ca_path.read_bytes()
    made.ensure(hosts=("127.0.0.1",))
    assert made.passwords() == before and made.ca_path.read_bytes() == ca
    assert set(before) == {"admin", "api", "transactions", "mailer", "kitchen"}
    assert len(set(before.values())) == len(before) and all(len(p) >= 24 for p in before.values())
    assert stat.S_IMODE(made.credentials_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(made.keystore_path.stat().st_mode) == 0o600
    assert json.loads(made.credentials_path.read_text()) == before


def test_the_broker_keystore_is_pem_key_then_chain(made: BrokerSecrets) -> None:
    text = made.keystore_path.read_text()
    assert text.startswith("-----BEGIN PRIVATE KEY-----")
    assert text.count("-----BEGIN CERTIFICATE-----") == 2


def test_server_properties_secure_every_listener(made: BrokerSecrets) -> None:
    props = made.server_properties("127.0.0.1", 19092, 19093)
    assert props["listeners"] == "SASL_SSL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["listener.security.protocol.map"] == "CONTROLLER:SSL,SASL_SSL:SASL_SSL"
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:CN=kafka-restaurants-broker"
    assert "StandardAuthorizer" in str(props["authorizer.class.name"])


def test_a_service_env_has_its_own_credential_only(made: BrokerSecrets) -> None:
    env = made.client_env("mailer")
    passwords = made.passwords()
    assert env["KAFKA_SASL_USERNAME"] == "mailer"
    assert env["KAFKA_SASL_PASSWORD"] == passwords["mailer"]
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["KAFKA_SSL_CA_LOCATION"] == str(made.ca_path.resolve())
    others = [p for user, p in passwords.items() if user != "mailer"]
    assert not any(p in env.values() for p in others)
    # What the service then builds from its environment:
    options = client_security(Settings.model_validate(env))
    assert options["sasl.username"] == "mailer" and options["security.protocol"] == "sasl_ssl"


def test_plaintext_settings_give_no_secrets_and_no_env(tmp_path: Path) -> None:
    plain = settings(tmp_path)
    assert managed_secrets(plain) is None
    assert service_kafka_env(plain, "api") == {}
    assert operator_settings(plain) is plain
    # An external cluster is never the managed secured broker, whatever KAFKA_SECURE says.
    assert managed_secrets(settings(tmp_path, KAFKA_SECURE=True, BOOTSTRAP_SVR="k:9092")) is None


@needs_openssl
def test_the_operator_is_the_admin_on_the_secured_managed_broker(tmp_path: Path) -> None:
    secure = settings(tmp_path, KAFKA_SECURE=True)
    broker = KafkaBroker.from_settings(secure)
    assert broker.home == tmp_path / "kafka-secure"
    secrets = managed_secrets(secure)
    assert secrets is not None and secrets == broker.secrets
    secrets.ensure(hosts=("127.0.0.1",))
    operator = operator_settings(secure)
    assert operator.kafka_sasl_username == "admin"
    assert service_kafka_env(secure, "api")["KAFKA_SASL_USERNAME"] == "api"
    # Someone with a principal of their own keeps it.
    own = settings(tmp_path, KAFKA_SECURE=True, KAFKA_SASL_USERNAME="ops", KAFKA_SASL_PASSWORD="x")
    assert operator_settings(own).kafka_sasl_username == "ops"
