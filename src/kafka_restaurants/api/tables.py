"""Tables owned by the api process: the catalog, its search index, orders and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from kafka_restaurants.db.schema import UtcDateTime, service_metadata

metadata = service_metadata()


class Base(DeclarativeBase):
    metadata = metadata


class Restaurant(Base):
    __tablename__ = "restaurants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Lower-cased copies so the seed's case-insensitive filters can use plain indexes.
    name_lower: Mapped[str] = mapped_column(String(200), index=True)
    style: Mapped[str] = mapped_column(String(80))
    style_lower: Mapped[str] = mapped_column(String(80), index=True)
    vegetarian: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    neighbourhood: Mapped[str] = mapped_column(String(120), default="")
    opening_hours: Mapped[str] = mapped_column(String(200), default="")

    menu: Mapped[list[MenuItem]] = relationship(
        back_populates="restaurant", order_by="MenuItem.position", cascade="all, delete-orphan"
    )


class MenuItem(Base):
    __tablename__ = "menu_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    restaurant_id: Mapped[int] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    category: Mapped[str] = mapped_column(String(80), default="Mains")
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="ILS")
    vegetarian: Mapped[bool] = mapped_column(Boolean, default=False)
    available: Mapped[bool] = mapped_column(Boolean, default=True)

    restaurant: Mapped[Restaurant] = relationship(back_populates="menu")


class SearchTerm(Base):
    """Inverted index: one row per (word, restaurant) with the best field weight it appears in.

    Built when the catalog is written, so free-text search is an indexed lookup on both SQLite
    and PostgreSQL and ranks identically on each.
    """

    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(String(80), primary_key=True)
    restaurant_id: Mapped[int] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True
    )
    weight: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_search_terms_restaurant", "restaurant_id"),)


class CatalogState(Base):
    """One row whose generation goes up whenever the catalog is written.

    Processes that keep the catalog in memory (the api's search index) poll it to know when
    to reload.
    """

    __tablename__ = "catalog_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)


class Order(Base):
    """An order as the customer placed it and where it stands; card kept as token + last4."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The client's Idempotency-Key: the same key answers with the same order.
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    # A digest of what that request asked for (never the card), so a reused key is told apart.
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))
    restaurant_id: Mapped[int] = mapped_column(Integer, index=True)
    restaurant_name: Mapped[str] = mapped_column(String(200))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str] = mapped_column(String(320))
    delivery_mode: Mapped[str] = mapped_column(String(10))
    delivery_address: Mapped[str | None] = mapped_column(String(500))
    total_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    payment_token: Mapped[str] = mapped_column(String(100))
    card_brand: Mapped[str] = mapped_column(String(20))
    card_last4: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(10), index=True)
    decline_code: Mapped[str | None] = mapped_column(String(50))
    decline_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    lines: Mapped[list[OrderLineRow]] = relationship(
        order_by="OrderLineRow.position", cascade="all, delete-orphan"
    )
    timeline: Mapped[list[OrderTimelineEntry]] = relationship(
        order_by="OrderTimelineEntry.id", cascade="all, delete-orphan"
    )


class OrderLineRow(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    menu_item_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(Integer)
    line_total_minor: Mapped[int] = mapped_column(Integer)


class OrderTimelineEntry(Base):
    """What happened to an order and when: placed, paid, declined."""

    __tablename__ = "order_timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class OutboxRecord(Base):
    """An event committed with the order, waiting for the relay to publish it to Kafka."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)
    headers: Mapped[str] = mapped_column(Text)  # JSON list of [name, value] pairs
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # A relay leases rows before publishing so several api replicas never publish the same row
    # at once; a lease left by a crashed relay expires.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "id"),)


# The Core tables, for statements that need no ORM objects (one name per table, used everywhere).
RESTAURANTS = cast(Table, Restaurant.__table__)
MENU_ITEMS = cast(Table, MenuItem.__table__)
ORDERS = cast(Table, Order.__table__)
ORDER_LINES = cast(Table, OrderLineRow.__table__)
ORDER_TIMELINE = cast(Table, OrderTimelineEntry.__table__)
OUTBOX = cast(Table, OutboxRecord.__table__)
