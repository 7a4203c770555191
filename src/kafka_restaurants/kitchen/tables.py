"""Tables owned by the kitchen: one ticket per confirmed order, and the steps taken on it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kafka_restaurants.db.schema import UtcDateTime, service_metadata

metadata = service_metadata()

ORDER_ID_MAX = 255


class Base(DeclarativeBase):
    metadata = metadata


class KitchenTicket(Base):
    """A confirmed order as the restaurant sees it. The primary key on the order id is what
    makes a replayed confirmation, or one seen by two instances, one ticket."""

    __tablename__ = "kitchen_tickets"

    order_id: Mapped[str] = mapped_column(String(ORDER_ID_MAX), primary_key=True)
    restaurant_id: Mapped[int] = mapped_column(Integer, index=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(16))  # delivery | pickup
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    # [{"name", "quantity"}]: what to cook; prices are not the kitchen's business.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    confirmed_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class KitchenStep(Base):
    """One step taken on a ticket. Keyed by (order, step): a step recorded twice is one row,
    whichever order the ticket and its steps arrive in."""

    __tablename__ = "kitchen_steps"

    order_id: Mapped[str] = mapped_column(String(ORDER_ID_MAX), primary_key=True)
    step: Mapped[str] = mapped_column(String(32), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
