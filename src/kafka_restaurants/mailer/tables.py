"""Tables owned by the mailer: one row per order whose confirmation was sent (or refused), and
one per order and notice kind (out for delivery) that was claimed for sending."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kafka_restaurants.db.schema import UtcDateTime, service_metadata

metadata = service_metadata()

ORDER_ID_MAX = 255


class Base(DeclarativeBase):
    metadata = metadata


class SentConfirmation(Base):
    """The confirmation of one order: `sent`, or `failed` when the server refused it for good."""

    __tablename__ = "mailer_sent_confirmations"

    order_id: Mapped[str] = mapped_column(String(ORDER_ID_MAX), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(400))
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SentNotice(Base):
    """A notice about an order after its confirmation (kind `out_for_delivery`). Claimed before
    it is sent, so it goes out at most once: `sending` left by a crash is never sent again."""

    __tablename__ = "mailer_sent_notices"

    order_id: Mapped[str] = mapped_column(String(ORDER_ID_MAX), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # sending | sent | failed
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
