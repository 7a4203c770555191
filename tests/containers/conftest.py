"""Every role of the system as a container of the built image, on the tests' Kafka and database."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.containers.engine import NAME_PREFIX, Engine, build_image
from tests.fixtures.bank import API_KEY, BANK_KEYS, TRANSACTIONS_KEY
from tests.fixtures.components import free_port, wait_for

READY_TIMEOUT = 120.0
# Where the processes keep files: the container's /tmp is its only writable place.
DATA_DIR = "/tmp/kafka-restaurants"


@dataclass
class Deployment:
    """The running containers: each long-running one's name, and the port its /healthz is on."""

    engine: Engine
    env: dict[str, str]
    health_ports: dict[str, int] = field(default_factory=dict)

    def name(self, role: str) -> str:
        """The container name of `role` in this test run."""
        return f"{NAME_PREFIX}{os.getpid()}-{role}"

    def url(self, role: str) -> str:
        """The HTTP address of a long-running role, on the host network."""
        return f"http://127.0.0.1:{self.health_ports[role]}"

    def all_logs(self) -> str:
        """The tail of every container's output, to explain a failure."""
        return "\n".join(
            f"--- {role} ---\n{self.engine.logs(self.name(role))}" for role in self.health_ports
        )


@pytest.fixture(scope="session")
def image() -> Engine:
    """The image, built (or found current) by deploy/images.sh like `make images`."""
    return build_image()


@pytest.fixture(scope="package")
def container_database(postgres_server: str) -> Iterator[str]:
    """A fresh PostgreSQL database for the containers, dropped at the end."""
    name = f"test_containers_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = postgres_server.rsplit("/", 1)[0].split("://", 1)[1]
    yield f"postgresql+psycopg://{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _system_env(kafka_bootstrap: str, database_url: str) -> dict[str, str]:
    """What the ConfigMap and Secret give every pod, with free ports on the host network."""
    smtp = free_port()
    api, bank = free_port(), free_port()
    return {
        "HOST": "127.0.0.1",
        "DATA_DIR": DATA_DIR,
        "BOOTSTRAP_SVR": kafka_bootstrap,
        "DATABASE_URL": database_url,
        "API_PORT": str(api),
        "API_URL": f"http://127.0.0.1:{api}",
        "BANK_PORT": str(bank),
        "BANK_URL": f"http://127.0.0.1:{bank}",
        "TRANSACTIONS_HEALTH_PORT": str(free_port()),
        "MAILER_HEALTH_PORT": str(free_port()),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp),
        "MAILBOX_SMTP_PORT": str(smtp),
        "MAILBOX_HTTP_PORT": str(free_port()),
        "MAILBOX_ENABLED": "true",
        # Both web replicas sign and check cart cookies with the same key.
        "CART_SECRET": secrets.token_urlsafe(32),
    }


# Each role's own secrets, as each pod mounts only its own: the bank knows every caller's key,
# the api and the payment service present theirs.
ROLE_SECRETS: dict[str, dict[str, str]] = {
    "bank": BANK_KEYS,
    "api": {"BANK_API_KEY": API_KEY},
    "transactions": {"BANK_API_KEY": TRANSACTIONS_KEY},
}


def _long_running_roles(env: dict[str, str]) -> dict[str, tuple[int, list[str]]]:
    """Role -> (port of its /healthz, the image's arguments), as the manifests run them."""
    web_1, web_2 = free_port(), free_port()
    return {
        "mailbox": (int(env["MAILBOX_HTTP_PORT"]), ["serve", "mailbox"]),
        "bank": (int(env["BANK_PORT"]), ["serve", "bank"]),
        "api": (int(env["API_PORT"]), ["serve", "api"]),
        "transactions": (int(env["TRANSACTIONS_HEALTH_PORT"]), ["serve", "transactions"]),
        "mailer": (int(env["MAILER_HEALTH_PORT"]), ["serve", "mailer"]),
        "web-1": (web_1, ["serve", "web", "--port", str(web_1)]),
        "web-2": (web_2, ["serve", "web", "--port", str(web_2)]),
    }


def _ready_or_exited(deployment: Deployment, role: str) -> str:
    """`ready` once /readyz answers 200, `exited` if the container stopped, else empty."""
    try:
        if httpx.get(f"{deployment.url(role)}/readyz", timeout=2).status_code == 200:
            return "ready"
    except httpx.HTTPError:
        pass
    return "" if deployment.engine.running(deployment.name(role)) else "exited"


def _await_ready(deployment: Deployment, role: str) -> None:
    """Wait for `role` to be ready; on failure, say why with every container's log."""
    try:
        state = wait_for(
            lambda: _ready_or_exited(deployment, role),
            timeout=READY_TIMEOUT,
            interval=0.5,
            what=f"the {role} container to be ready",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{deployment.all_logs()}") from exc
    assert state == "ready", f"the {role} container exited:\n{deployment.all_logs()}"


# Package scope: the containers stop when this folder's tests are done, so they neither load the
# two cores nor consume from the shared broker while the rest of the suite runs.
@pytest.fixture(scope="package")
def deployment(
    image: Engine, kafka_bootstrap: str, container_database: str
) -> Iterator[Deployment]:
    """migrate and topics run to completion, then every long-running role, all ready."""
    image.remove_stale()
    running = Deployment(engine=image, env=_system_env(kafka_bootstrap, container_database))
    for job in ("migrate", "topics"):
        done = image.run_once(running.name(job), running.env, job)
        assert done.returncode == 0, f"{job} failed:\n{done.stdout}\n{done.stderr}"
    roles = _long_running_roles(running.env)
    try:
        # All at once, as Kubernetes starts them: each process waits for what it needs.
        for role, (port, args) in roles.items():
            running.health_ports[role] = port
            env = {**running.env, **ROLE_SECRETS.get(role, {}), "HEALTHCHECK_PORT": str(port)}
            if role.startswith("web-"):
                env["WEB_REPLICA_NAME"] = role
            image.start(running.name(role), env, *args)
        for role in roles:
            _await_ready(running, role)
        yield running
    finally:
        image.remove([running.name(role) for role in running.health_ports])
