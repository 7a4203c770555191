"""A real SMTP server that keeps what it receives, a mailer on a topic of its own, and helpers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from kafka_restaurants.db import migrate
from kafka_restaurants.localbroker.broker import ensure_topics
from kafka_restaurants.mailer.app import mailer_service
from kafka_restaurants.messaging.service import ConsumerProcess
from kafka_restaurants.settings import Settings
from tests.fixtures.components import free_port, wait_for
from tests.fixtures.kafka_io import committed_offsets
from tests.unit.mailer.samples import confirmed

HOST = "127.0.0.1"
REFUSED_PREFIX = "nobody"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class InboxHandler:
    """Stores every message; refuses, with a permanent 550, recipients named nobody*@..."""

    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith(REFUSED_PREFIX):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), message)
            )
        return "250 Message accepted"

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)


@dataclass
class SmtpInbox:
    port: int
    handler: InboxHandler
    controller: Controller | None = None

    def start(self) -> None:
        # A fixed server name: aiosmtpd would otherwise ask DNS for this machine's FQDN.
        self.controller = Controller(
            self.handler,
            hostname=HOST,
            port=self.port,
            server_hostname="test-smtp.local",
            ready_timeout=10,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self) -> list[Received]:
        return self.handler.messages()


@pytest.fixture
def smtp_inbox() -> Iterator[SmtpInbox]:
    """A running SMTP server on a free port."""
    inbox = SmtpInbox(free_port(), InboxHandler())
    inbox.start()
    yield inbox
    inbox.stop()


@pytest.fixture
def order_topic(kafka_bootstrap: str) -> str:
    """A fresh one-partition stand-in for `order_confirm`, with its dead-letter topic."""
    name = f"confirm-{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka_bootstrap, {name: 1, f"{name}.DLQ": 1})
    return name


@pytest.fixture
def group_id() -> str:
    return f"mailer-{uuid.uuid4().hex[:8]}"


def mailer_settings(kafka_bootstrap: str, smtp_port: int, db_url: str, data_dir: Path) -> Settings:
    """Settings for a mailer under test; init values win over the environment and .env."""
    values = {
        "BOOTSTRAP_SVR": kafka_bootstrap,
        "SMTP_HOST": HOST,
        "SMTP_PORT": smtp_port,
        "MAILER_DATABASE_URL": db_url,
        "PUBLIC_URL": "http://shop.test",
        "MAIL_FROM": "Kafka Restaurants <orders@kafka-restaurants.test>",
        "DATA_DIR": str(data_dir),
    }
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class RunningMailer:
    process: ConsumerProcess
    thread: threading.Thread

    def stop(self) -> None:
        self.process.stop()
        self.thread.join(30)
        assert not self.thread.is_alive(), "mailer did not stop"


StartMailer = Callable[[int, str], RunningMailer]


@pytest.fixture
def start_mailer(
    kafka_bootstrap: str, order_topic: str, group_id: str, tmp_path: Path
) -> Iterator[StartMailer]:
    """Start a mailer (SMTP port, database URL) in a thread; every one is stopped at the end."""
    started: list[RunningMailer] = []

    def start(smtp_port: int, db_url: str) -> RunningMailer:
        settings = mailer_settings(kafka_bootstrap, smtp_port, db_url, tmp_path)
        migrate("mailer", db_url)
        process = ConsumerProcess(
            mailer_service(
                settings, group_id=group_id, topic=order_topic, backoff_base=0.05, backoff_cap=0.5
            )
        )
        thread = threading.Thread(target=process.run, daemon=True)
        thread.start()
        running = RunningMailer(process, thread)
        started.append(running)
        wait_for(lambda: process.running, what="mailer consuming")
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mailer.sqlite'}"


HEADERS = [("event_type", b"OrderConfirmed"), ("schema_version", b"1")]


def record(order_id: str, email: str = "dana@example.com") -> tuple[bytes, bytes, list]:
    """An OrderConfirmed as (key, value, headers) to produce."""
    event = confirmed(order_id, email=email)
    return order_id.encode(), event.model_dump_json().encode(), list(HEADERS)


def committed(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offset on partition 0 of `topic` (negative: nothing committed)."""
    return committed_offsets(bootstrap, group, topic, 1)[0]


def settle_and_count(inbox: SmtpInbox, seconds: float = 1.5) -> int:
    """Give a wrong extra email time to arrive, then count (asserting absence needs a wait)."""
    time.sleep(seconds)
    return len(inbox.messages())
