"""The record of confirmations already handled, keyed by order id: what makes a resend a skip."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select

from kafka_restaurants.db.engine import conflict_insert
from kafka_restaurants.mailer.tables import SentConfirmation

SENT = "sent"
FAILED = "failed"


@dataclass(frozen=True)
class ConfirmationRecord:
    """One handled confirmation, as stored."""

    order_id: str
    message_id: str
    recipient: str
    status: str
    sent_at: datetime
    error: str | None = None


class SentRecords:
    """Sent-confirmation rows in the mailer's database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Built once: the mailer records every message on its own, and building the statement
        # cost as much CPU as executing it.
        self._insert = conflict_insert(engine, SentConfirmation).on_conflict_do_nothing(
            index_elements=["order_id"]
        )
        self._handled = select(SentConfirmation.order_id).where(
            SentConfirmation.order_id.in_(bindparam("order_ids", expanding=True))
        )

    def handled_among(self, order_ids: Iterable[str]) -> set[str]:
        """Which of `order_ids` already have a record (sent or refused for good)."""
        wanted = list(set(order_ids))
        if not wanted:
            return set()
        with self.engine.connect() as conn:
            return set(conn.scalars(self._handled, {"order_ids": wanted}))

    def record(self, records: Sequence[ConfirmationRecord]) -> None:
        """Store `records` in one transaction; an order already recorded keeps its first row."""
        if not records:
            return
        rows: list[dict[str, Any]] = [
            {
                "order_id": r.order_id,
                "message_id": r.message_id,
                "recipient": r.recipient,
                "status": r.status,
                "error": r.error,
                "sent_at": r.sent_at,
            }
            for r in records
        ]
        with self.engine.begin() as conn:
            conn.execute(self._insert, rows)

    def get(self, order_id: str) -> ConfirmationRecord | None:
        """The record of `order_id`, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(SentConfirmation.__table__).where(SentConfirmation.order_id == order_id)
            ).first()
        if row is None:
            return None
        return ConfirmationRecord(
            order_id=row.order_id,
            message_id=row.message_id,
            recipient=row.recipient,
            status=row.status,
            sent_at=row.sent_at,
            error=row.error,
        )
