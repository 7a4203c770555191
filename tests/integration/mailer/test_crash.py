"""A mailer process SIGKILLed between the SMTP server accepting a mail and the mailer recording
it: the restarted mailer mails every order, and only that one mail twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine

from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.mailer.records import SentRecords
from tests.fixtures.components import free_port, wait_for
from tests.fixtures.kafka_io import produce
from tests.integration.mailer.conftest import (
    HOST,
    InboxHandler,
    SmtpInbox,
    committed,
    record,
    settle_and_count,
)

# The mailer's own composition root, on this test's topic and consumer group.
MAILER = """
import sys
from kafka_restaurants.mailer.app import mailer_service
from kafka_restaurants.messaging.service import ConsumerProcess
from kafka_restaurants.runtime import stop_on_signals
from kafka_restaurants.settings import Settings

topic, group = sys.argv[1:]
settings = Settings()
process = ConsumerProcess(
    mailer_service(settings, group_id=group, topic=topic, backoff_base=0.05, backoff_cap=0.5)
)
stop_on_signals(process)
process.run()
"""

ORDERS = 12
KILL_AT = 5


@dataclass
class DeadlyInbox(InboxHandler):
    """Stores the `kill_at`-th message, then SIGKILLs the mailer before it can hear the reply.

    Before the kill it waits (holding the SMTP server's event loop, so that nothing else is
    accepted meanwhile) until the messages accepted earlier are recorded: a mailer that records
    each send as it is accepted gets there at once; one that records after the batch never does.
    From the kill on it takes nothing more, so what the dead process still had on the wire is
    not counted as delivered.
    """

    kill_at: int = 0
    victim: int | None = None
    records: SentRecords | None = None
    order_ids: tuple[str, ...] = ()
    accepting: bool = True
    killed_on: str | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not self.accepting:
            return "451 4.3.0 not now"
        reply = await super().handle_DATA(server, session, envelope)
        received = self.messages()
        if self.victim is not None and len(received) == self.kill_at:
            assert self.records is not None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if len(self.records.handled_among(self.order_ids)) >= self.kill_at - 1:
                    break
                time.sleep(0.02)
            os.kill(self.victim, signal.SIGKILL)
            self.accepting = False
            self.killed_on = str(received[-1].message["Message-ID"])
        return reply


def mailer_env(kafka_bootstrap: str, smtp_port: int, db_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "BOOTSTRAP_SVR": kafka_bootstrap,
        "SMTP_HOST": HOST,
        "SMTP_PORT": str(smtp_port),
        "DATABASE_URL": "",
        "MAILER_DATABASE_URL": db_url,
        "PUBLIC_URL": "http://shop.test",
        "MAIL_FROM": "Kafka Restaurants <orders@kafka-restaurants.test>",
        "DATA_DIR": str(data_dir),
    }


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    migrate("mailer", sqlite_url)
    engine = create_db_engine(sqlite_url)
    yield engine
    engine.dispose()


def test_a_kill_between_send_and_record_resends_that_one_mail_only(
    kafka_bootstrap: str,
    order_topic: str,
    group_id: str,
    sqlite_url: str,
    engine: Engine,
    tmp_path: Path,
) -> None:
    order_ids = tuple(f"crash-{i:02d}" for i in range(ORDERS))
    produce(kafka_bootstrap, order_topic, [record(order_id) for order_id in order_ids])
    handler = DeadlyInbox(kill_at=KILL_AT, records=SentRecords(engine), order_ids=order_ids)
    inbox = SmtpInbox(free_port(), handler)
    inbox.start()
    env = mailer_env(kafka_bootstrap, inbox.port, sqlite_url, tmp_path / "var")
    started: list[subprocess.Popen[bytes]] = []

    def start_mailer(log_name: str, group: str) -> subprocess.Popen[bytes]:
        with (tmp_path / log_name).open("wb") as log:
            # cwd = tmp_path, so a developer's .env does not change what is under test.
            process = subprocess.Popen(
                [sys.executable, "-c", MAILER, order_topic, group],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return process

    try:
        # The victim is known long before it can send: it has to start and join the group.
        first = start_mailer("first.log", group_id)
        handler.victim = first.pid
        assert first.wait(timeout=120) == -signal.SIGKILL, (tmp_path / "first.log").read_text()
        assert len(inbox.messages()) == KILL_AT
        assert committed(kafka_bootstrap, group_id, order_topic) < 0

        # A group of its own reads the whole topic again (the dead one committed nothing), and
        # does not wait out the dead member's session, as a restart in its group would.
        handler.accepting = True
        restarted = f"{group_id}-restarted"
        second = start_mailer("second.log", restarted)
        wait_for(
            lambda: committed(kafka_bootstrap, restarted, order_topic) == ORDERS,
            timeout=60,
            what="every order handled by the restarted mailer",
        )
        settle_and_count(inbox)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, (tmp_path / "second.log").read_text()
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
        inbox.stop()

    mails = Counter(str(received.message["Message-ID"]) for received in inbox.messages())
    assert set(mails) == {f"<order-{order_id}@kafka-restaurants>" for order_id in order_ids}
    twice = [message_id for message_id, count in mails.items() if count > 1]
    assert twice == [handler.killed_on], "only the mail accepted at the kill may go twice"
    assert mails[handler.killed_on] == 2
