"""The processes `restaurants up` runs, in start order, with how to tell each is ready."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from kafka_restaurants.bank.keys import caller_environments
from kafka_restaurants.cli.loadbalancer import nginx_binary, web_replica_ports
from kafka_restaurants.settings import Settings
from kafka_restaurants.tls import https_verify


@dataclass
class ProcessSpec:
    """One supervised process: its command line, environment and readiness probe."""

    name: str
    command: list[str]
    ready: Callable[[], bool]
    url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 60.0


def http_ready(url: str, ca_file: Path | None = None) -> Callable[[], bool]:
    """A probe that is true once `url` answers 200 (an https server checked against ca_file)."""
    verify = https_verify(ca_file)

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=1.0, verify=verify).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


def serve_command(process: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "kafka_restaurants.cli.main", "serve", process, *args]


def consumer_instances(process: str, base_port: int, count: int, host: str) -> list[ProcessSpec]:
    """`count` processes of one consumer, in one consumer group, health on base_port + i.

    Each process's Kafka transactional id carries its host name and pid, so instances never
    fence each other; only their health ports and names need telling apart.
    """
    specs = []
    for i in range(count):
        port = base_port + i
        specs.append(
            ProcessSpec(
                process if count == 1 else f"{process}-{i + 1}",
                serve_command(process),
                http_ready(f"http://{host}:{port}/readyz"),
                url=f"http://{host}:{port}",
                env={f"{process.upper()}_HEALTH_PORT": str(port)},
            )
        )
    return specs


def kitchen_instances(settings: Settings, ca_file: Path | None) -> list[ProcessSpec]:
    """KITCHEN_INSTANCES kitchens in one consumer group, each serving on KITCHEN_PORT + i.

    The website calls the first (KITCHEN_URL); the others share the partitions and the
    database, so every ticket is kept whichever instance reads its confirmation.
    """
    specs = []
    count = settings.kitchen_instances
    for i in range(count):
        port = settings.kitchen_port + i
        url = f"{settings.http_scheme}://{settings.host}:{port}"
        specs.append(
            ProcessSpec(
                "kitchen" if count == 1 else f"kitchen-{i + 1}",
                serve_command("kitchen"),
                http_ready(f"{url}/readyz", ca_file),
                url=url,
                env={"KITCHEN_PORT": str(port)},
            )
        )
    return specs


def service_groups(settings: Settings) -> list[list[ProcessSpec]]:
    """Everything but Kafka, grouped: each group starts once the previous one is ready."""
    host = settings.host
    # api, bank and web serve https with TLS_CERT_FILE/TLS_KEY_FILE; probes check TLS_CA_FILE.
    scheme, ca_file = settings.http_scheme, settings.tls_ca_file
    # The bank gets every caller's key, api and transactions only their own (generated once
    # into DATA_DIR/bank_keys.json unless BANK_CALLER_KEY_* are set).
    bank_keys = caller_environments(settings)
    # On the secured managed broker (--secure) each Kafka client runs as its own principal.
    from kafka_restaurants.localbroker.broker import service_kafka_env

    groups: list[list[ProcessSpec]] = []
    first: list[ProcessSpec] = [
        ProcessSpec(
            "bank",
            serve_command("bank"),
            http_ready(f"{settings.bank_base_url}/readyz", ca_file),
            url=settings.bank_base_url,
            env=bank_keys["bank"],
        )
    ]
    if settings.mailbox_enabled:
        first.append(
            ProcessSpec(
                "mailbox",
                serve_command("mailbox"),
                http_ready(f"{settings.mailbox_base_url}/readyz"),
                url=settings.mailbox_base_url,
            )
        )
    groups.append(first)
    groups.append(
        [
            ProcessSpec(
                "api",
                serve_command("api"),
                http_ready(f"{scheme}://{host}:{settings.api_port}/readyz", ca_file),
                url=f"{scheme}://{host}:{settings.api_port}",
                env={**bank_keys["api"], **service_kafka_env(settings, "api")},
            )
        ]
    )
    payment = consumer_instances(
        "transactions", settings.transactions_health_port, settings.transactions_instances, host
    )
    for spec in payment:
        spec.env.update(bank_keys["transactions"])
        spec.env.update(service_kafka_env(settings, "transactions"))
    mail = consumer_instances(
        "mailer", settings.mailer_health_port, settings.mailer_instances, host
    )
    for spec in mail:
        spec.env.update(service_kafka_env(settings, "mailer"))
    kitchens = kitchen_instances(settings, ca_file)
    for spec in kitchens:
        spec.env.update(service_kafka_env(settings, "kitchen"))
    groups.append([*payment, *mail, *kitchens])
    replicas = [
        ProcessSpec(
            f"web-{i + 1}",
            serve_command("web", "--port", str(port), "--replica-name", f"web-{i + 1}"),
            http_ready(f"{scheme}://{host}:{port}/healthz", ca_file),
            url=f"{scheme}://{host}:{port}",
        )
        for i, port in enumerate(web_replica_ports(settings))
    ]
    groups.append(replicas)
    nginx = nginx_binary()
    if nginx is not None and replicas:
        groups.append(
            [
                ProcessSpec(
                    "lb",
                    serve_command("lb"),
                    http_ready(f"http://{host}:{settings.web_port}/healthz"),
                    url=f"http://{host}:{settings.web_port}",
                )
            ]
        )
    return [group for group in groups if group]


# `restaurants serve NAME` runs the function at this import path with the settings.
SERVE_TARGETS: dict[str, str] = {
    "lb": "kafka_restaurants.cli.loadbalancer:serve",
    "api": "kafka_restaurants.api.app:serve",
    "bank": "kafka_restaurants.bank.app:serve",
    "mailbox": "kafka_restaurants.mailbox.app:serve",
    "transactions": "kafka_restaurants.transactions.app:serve",
    "mailer": "kafka_restaurants.mailer.app:serve",
    "kitchen": "kafka_restaurants.kitchen.app:serve",
    "web": "kafka_restaurants.web.app:serve",
}
