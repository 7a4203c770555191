"""The sent-record on SQLite and PostgreSQL: migrations, lookups, first write wins."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect

from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.mailer.records import ConfirmationRecord, SentRecords

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def sent(order_id: str, status: str = "sent", error: str | None = None) -> ConfirmationRecord:
    return ConfirmationRecord(
        order_id=order_id,
        message_id=f"<order-{order_id}@kafka-restaurants>",
        recipient="dana@example.com",
        status=status,
        sent_at=WHEN,
        error=error,
    )


def test_records_are_kept_per_order_and_the_first_one_wins(database_url: str) -> None:
    migrate("mailer", database_url)
    migrate("mailer", database_url)  # a second run is a no-op
    engine = create_db_engine(database_url)
    try:
        assert "mailer_sent_confirmations" in inspect(engine).get_table_names()
        records = SentRecords(engine)
        assert records.handled_among(["a", "b"]) == set()
        assert records.handled_among([]) == set()

        records.record([sent("a"), sent("b", "failed", "550 no such user")])
        records.record([sent("a", "failed", "a later copy")])  # already there: ignored

        assert records.handled_among(["a", "b", "c"]) == {"a", "b"}
        first = records.get("a")
        assert first is not None and first.status == "sent" and first.error is None
        assert first.sent_at.replace(tzinfo=first.sent_at.tzinfo or UTC) == WHEN
        refused = records.get("b")
        assert refused is not None and refused.error == "550 no such user"
        assert records.get("c") is None
    finally:
        engine.dispose()


def test_a_long_order_id_fits(database_url: str) -> None:
    migrate("mailer", database_url)
    engine = create_db_engine(database_url)
    try:
        records = SentRecords(engine)
        long_id = "x" * 255
        records.record([sent(long_id)])
        assert records.handled_among([long_id]) == {long_id}
    finally:
        engine.dispose()
