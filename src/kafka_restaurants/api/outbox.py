"""The outbox relay: publishes committed OrderPlaced events to Kafka, then marks them sent.

Rows are leased before publishing, so several api replicas can relay from one database without
publishing a row twice at the same time; a lease left by a crashed relay expires and another
relay takes the row over (consumers are idempotent, so that rare re-publish is harmless).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Engine, Row, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.api.tables import OUTBOX, OutboxRecord
from kafka_restaurants.db import engine_of
from kafka_restaurants.events.codec import EncodedEvent
from kafka_restaurants.messaging.backoff import backoff_seconds
from kafka_restaurants.messaging.producer import Record, RecordPublisher

log = logging.getLogger(__name__)

_RELAYED_COLUMNS = (
    OUTBOX.c.id,
    OUTBOX.c.topic,
    OUTBOX.c.key,
    OUTBOX.c.payload,
    OUTBOX.c.headers,
    OUTBOX.c.created_at,
)
_MARK_PUBLISHED = (
    update(OUTBOX)
    .where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("now"), claimed_by=None, claimed_until=None)
)
_RELEASE = (
    update(OUTBOX)
    .where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(claimed_by=None, claimed_until=None)
)
BACKLOG_EVERY_SECONDS = 1.0


def claim_statement(batch_size: int) -> Any:
    """The UPDATE ... RETURNING that leases up to `batch_size` unsent rows to a relay.

    Built once per relay, with the time and the relay's id as parameters: building it every
    round cost as much CPU as the two transactions of a one-row round together.
    """
    now = bindparam("now", type_=OUTBOX.c.claimed_until.type)
    claimable = (
        OUTBOX.c.published_at.is_(None),
        or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now),
    )
    candidates = (
        select(OUTBOX.c.id)
        .where(*claimable)
        .order_by(OUTBOX.c.id)
        .limit(batch_size)
        .scalar_subquery()
    )
    # The claim conditions are repeated on the UPDATE itself: under concurrency
    # PostgreSQL re-checks them on the locked row, so only one relay wins each row.
    # RETURNING hands back the claimed rows in the same statement (SQLite >= 3.35).
    return (
        update(OUTBOX)
        .where(OUTBOX.c.id.in_(candidates), *claimable)
        .values(
            claimed_by=bindparam("relay_id"),
            claimed_until=bindparam("until"),
            attempts=OUTBOX.c.attempts + 1,
        )
        .returning(*_RELAYED_COLUMNS)
    )


PUBLISHED = Counter("outbox_published_total", "Outbox records published to Kafka")
PUBLISH_FAILURES = Counter("outbox_publish_failures_total", "Outbox records Kafka did not take")
BACKLOG = Gauge("outbox_backlog", "Outbox records not yet published")
PUBLISH_LATENCY = Histogram(
    "outbox_publish_latency_seconds",
    "Time from an order's commit to its event being acknowledged by Kafka",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def outbox_row(topic: str, key: str, encoded: EncodedEvent, now: datetime) -> dict[str, Any]:
    """The outbox row that publishes `encoded` to `topic` once its transaction commits."""
    return {
        "topic": topic,
        "key": key,
        "payload": encoded.value.decode("utf-8"),
        "headers": json.dumps([[name, value.decode()] for name, value in encoded.headers]),
        "created_at": now,
        "published_at": None,
        "claimed_by": None,
        "claimed_until": None,
        "attempts": 0,
    }


class OutboxRelay:
    """Publishes unsent outbox rows in id order; wake() makes it look right away."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        publisher: RecordPublisher,
        batch_size: int = 500,
        lease_seconds: float = 60.0,
        idle_seconds: float = 0.5,
        retention: timedelta = timedelta(hours=24),
        linger_seconds: float = 0.01,
    ) -> None:
        self.sessions = sessions
        self.publisher = publisher
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.idle_seconds = idle_seconds
        self.linger_seconds = linger_seconds
        self.retention = retention
        self.relay_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._claim = claim_statement(batch_size)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backlog_counted = 0.0

    @property
    def engine(self) -> Engine:
        """Where the relay's Core statements run, without an ORM Session around them."""
        return engine_of(self.sessions)

    def wake(self) -> None:
        """Something was just committed to the outbox."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)

    def run(self) -> None:
        """Relay until stopped; back off while Kafka refuses records."""
        failures = 0
        last_cleanup = float("-inf")  # clean up on the first round, however long the host has run
        while not self._stop.is_set():
            try:
                published, failed = self.relay_once()
            except Exception:
                log.exception("outbox relay failed; retrying")
                published, failed = 0, 1
            failures = failures + 1 if failed else 0
            if failed:
                self._stop.wait(backoff_seconds(failures - 1, base=0.2, cap=5.0))
            elif published < self.batch_size:
                # Woken by a commit, linger a moment so the orders committed meanwhile share
                # the round: each round costs two transactions and a Kafka flush however
                # few rows it carries.
                if self._wake.wait(self.idle_seconds) and self.linger_seconds:
                    self._stop.wait(self.linger_seconds)
                self._wake.clear()
            if time.monotonic() - last_cleanup > 600:
                last_cleanup = time.monotonic()
                try:
                    self.delete_published_before(datetime.now(UTC) - self.retention)
                except Exception:  # the database is away; old rows can wait for the next round
                    log.exception("outbox cleanup failed; trying again in 10 minutes")

    def relay_once(self) -> tuple[int, int]:
        """Lease a batch, publish it, mark what Kafka acknowledged; returns (published, failed)."""
        rows = self._lease_batch()
        if not rows:
            BACKLOG.set(0)
            return 0, 0
        records = [
            Record(
                topic=row.topic,
                key=row.key.encode(),
                value=row.payload.encode(),
                headers=[(name, value.encode()) for name, value in json.loads(row.headers)],
            )
            for row in rows
        ]
        results = self.publisher.publish(records)
        done = [row.id for row, ok in zip(rows, results, strict=True) if ok]
        failed = [row.id for row, ok in zip(rows, results, strict=True) if not ok]
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            if done:
                connection.execute(_MARK_PUBLISHED, {"ids": done, "now": now})
            if failed:
                connection.execute(_RELEASE, {"ids": failed})
        published = len(done)
        for row, ok in zip(rows, results, strict=True):
            if ok:
                PUBLISH_LATENCY.observe((now - row.created_at).total_seconds())
        PUBLISHED.inc(published)
        PUBLISH_FAILURES.inc(len(failed))
        self._update_backlog(full_batch=len(rows) >= self.batch_size)
        return published, len(failed)

    def _update_backlog(self, full_batch: bool) -> None:
        # A COUNT per round would cost as much as the round itself at small batches; a gauge
        # read by a scraper every few seconds only needs to be about that fresh.
        if not full_batch:
            BACKLOG.set(0)
        elif time.monotonic() - self._backlog_counted > BACKLOG_EVERY_SECONDS:
            self._backlog_counted = time.monotonic()
            BACKLOG.set(self.backlog())

    def _lease_batch(self) -> list[Row[Any]]:
        """Claim up to batch_size unsent rows for this relay and return them in id order."""
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            rows = connection.execute(
                self._claim, {"now": now, "relay_id": self.relay_id, "until": now + self.lease}
            ).all()
        return sorted(rows, key=lambda row: int(row.id))

    def backlog(self) -> int:
        """Records committed but not yet acknowledged by Kafka."""
        with self.sessions() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(OutboxRecord)
                    .where(OutboxRecord.published_at.is_(None))
                )
                or 0
            )

    def delete_published_before(self, cutoff: datetime) -> None:
        with self.sessions() as session, session.begin():
            session.execute(
                delete(OutboxRecord).where(
                    OutboxRecord.published_at.is_not(None), OutboxRecord.published_at < cutoff
                )
            )
