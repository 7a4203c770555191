"""The KAFKA_SECURITY_* settings as librdkafka options, with the password kept out of sight."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from kafka_restaurants.messaging.security import client_security, masked, with_security
from kafka_restaurants.settings import Settings

PASSWORD = "s3cret-Pa55word-xyz"


def secured(**overrides: object) -> Settings:
    fields: dict[str, object] = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_USERNAME": "mailer",
        "KAFKA_SASL_PASSWORD": PASSWORD,
        "KAFKA_SSL_CA_LOCATION": "/etc/kafka/ca.pem",
    }
    fields.update(overrides)
    return Settings.model_validate(fields)


def test_plaintext_is_the_default_and_adds_nothing_else() -> None:
    assert client_security(Settings.model_validate({})) == {"security.protocol": "plaintext"}


def test_sasl_ssl_maps_to_librdkafka_options() -> None:
    assert client_security(secured()) == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "mailer",
        "sasl.password": PASSWORD,
        "ssl.ca.location": "/etc/kafka/ca.pem",
    }


def test_mechanism_and_protocol_come_from_the_settings() -> None:
    options = client_security(
        secured(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_MECHANISM="SCRAM-SHA-256")
    )
    assert options["security.protocol"] == "sasl_plaintext"
    assert options["sasl.mechanism"] == "SCRAM-SHA-256"
    assert "ssl.ca.location" not in options  # no TLS, no CA


def test_tls_without_sasl_takes_only_the_ca() -> None:
    options = client_security(secured(KAFKA_SECURITY_PROTOCOL="SSL"))
    assert options == {"security.protocol": "ssl", "ssl.ca.location": "/etc/kafka/ca.pem"}


def test_tls_without_a_ca_file_uses_the_system_store() -> None:
    options = client_security(secured(KAFKA_SSL_CA_LOCATION=None))
    assert "ssl.ca.location" not in options


def test_sasl_without_credentials_is_refused_naming_the_settings() -> None:
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        client_security(secured(KAFKA_SASL_PASSWORD=None))
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        client_security(secured(KAFKA_SASL_USERNAME=None))


def test_the_password_is_never_in_a_repr_str_or_log_line(caplog: pytest.LogCaptureFixture) -> None:
    settings = secured()
    options = client_security(settings)
    logging.getLogger("test").warning("kafka client %s / %r / %s", options, options, settings)
    shown = [repr(options), str(options), f"{options}", repr(settings), caplog.text]
    assert all(PASSWORD not in text for text in shown), shown
    assert "********" in repr(options) and "mailer" in repr(options)
    # The value librdkafka gets is the real one.
    assert options["sasl.password"] == PASSWORD


def test_a_client_config_carries_the_security_options() -> None:
    config = with_security(
        {"bootstrap.servers": "b:9092", "acks": "all"}, client_security(secured())
    )
    assert config["bootstrap.servers"] == "b:9092" and config["sasl.username"] == "mailer"
    assert masked(config)["sasl.password"] == "********"
    assert with_security({"acks": "all"}, None) == {"acks": "all"}


def test_the_ca_path_is_a_path_setting(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    options = client_security(secured(KAFKA_SSL_CA_LOCATION=str(ca)))
    assert options["ssl.ca.location"] == str(ca)


def test_secret_str_settings_are_accepted_as_given() -> None:
    settings = secured().model_copy(update={"kafka_sasl_password": SecretStr("other")})
    assert client_security(settings)["sasl.password"] == "other"
