"""Kafka client security: the one place the KAFKA_SECURITY_* settings become librdkafka options.

Every client the project builds (producers, consumers, admin clients, probes, tools) adds
`client_security(settings)` to its configuration, so a cluster that asks for SASL/SCRAM over
TLS gets it from every one of them or from none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kafka_restaurants.settings import Settings

SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
# Options whose values are secrets: shown masked wherever a configuration is printed.
SECRET_OPTIONS = frozenset({"sasl.password", "ssl.key.password", "ssl.keystore.password"})
MASK = "********"


class ClientSecurity(dict[str, str]):
    """librdkafka security options; their repr and str mask the password."""

    def __repr__(self) -> str:
        return repr(masked(self))

    __str__ = __repr__


def masked(config: Mapping[str, object]) -> dict[str, object]:
    """`config` with every secret value replaced by a mask, fit for a log line."""
    return {key: MASK if key in SECRET_OPTIONS else value for key, value in config.items()}


def client_security(settings: Settings) -> ClientSecurity:
    """The librdkafka options for the security `settings` name (none beyond PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    options = ClientSecurity({"security.protocol": protocol.lower()})
    if protocol in SASL_PROTOCOLS:
        password = settings.kafka_sasl_password
        if not settings.kafka_sasl_username or password is None:
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME and "
                "KAFKA_SASL_PASSWORD"
            )
        options["sasl.mechanism"] = settings.kafka_sasl_mechanism
        options["sasl.username"] = settings.kafka_sasl_username
        options["sasl.password"] = password.get_secret_value()
    if protocol in TLS_PROTOCOLS and settings.kafka_ssl_ca_location is not None:
        options["ssl.ca.location"] = str(settings.kafka_ssl_ca_location)
    return options


def with_security(config: Mapping[str, Any], security: Mapping[str, str] | None) -> dict[str, Any]:
    """A client configuration: `config` plus the security options (which win on a clash)."""
    return {**config, **(security or {})}
