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

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.api.tables import OutboxRecord
from kafka_restaurants.messaging.backoff import backoff_seconds
from kafka_restaurants.messaging.producer import Record, RecordPublisher

log = logging.getLogger(__name__)

PUBLISHED = Counter("outbox_published_total", "Outbox records published to Kafka")
PUBLISH_FAILURES = Counter("outbox_publish_failures_total", "Outbox records Kafka did not take")
BACKLOG = Gauge("outbox_backlog", "Outbox records not yet published")
PUBLISH_LATENCY = Histogram(
    "outbox_publish_latency_seconds",
    "Time from an order's commit to its event being acknowledged by Kafka",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


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
    ) -> None:
        self.sessions = sessions
        self.publisher = publisher
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.idle_seconds = idle_seconds
        self.retention = retention
        self.relay_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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
        last_cleanup = 0.0
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
                self._wake.wait(self.idle_seconds)
                self._wake.clear()
            if time.monotonic() - last_cleanup > 600:
                last_cleanup = time.monotonic()
                self.delete_published_before(datetime.now(UTC) - self.retention)

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
        with self.sessions() as session, session.begin():
            if done:
                session.execute(
                    update(OutboxRecord)
                    .where(OutboxRecord.id.in_(done))
                    .values(published_at=now, claimed_by=None, claimed_until=None)
                )
            if failed:
                session.execute(
                    update(OutboxRecord)
                    .where(OutboxRecord.id.in_(failed))
                    .values(claimed_by=None, claimed_until=None)
                )
        for row, ok in zip(rows, results, strict=True):
            if ok:
                PUBLISH_LATENCY.observe((now - row.created_at).total_seconds())
        PUBLISHED.inc(len(done))
        PUBLISH_FAILURES.inc(len(failed))
        BACKLOG.set(self.backlog())
        return len(done), len(failed)

    def _lease_batch(self) -> list[OutboxRecord]:
        now = datetime.now(UTC)
        claimable = (
            OutboxRecord.published_at.is_(None),
            or_(OutboxRecord.claimed_until.is_(None), OutboxRecord.claimed_until < now),
        )
        with self.sessions() as session, session.begin():
            candidates = (
                select(OutboxRecord.id)
                .where(*claimable)
                .order_by(OutboxRecord.id)
                .limit(self.batch_size)
                .scalar_subquery()
            )
            # The claim conditions are repeated on the UPDATE itself: under concurrency
            # PostgreSQL re-checks them on the locked row, so only one relay wins each row.
            session.execute(
                update(OutboxRecord)
                .where(OutboxRecord.id.in_(candidates), *claimable)
                .values(
                    claimed_by=self.relay_id,
                    claimed_until=now + self.lease,
                    attempts=OutboxRecord.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(OutboxRecord)
                    .where(
                        OutboxRecord.claimed_by == self.relay_id,
                        OutboxRecord.published_at.is_(None),
                    )
                    .order_by(OutboxRecord.id)
                )
            )

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
