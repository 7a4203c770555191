"""Tables owned by the api process: the catalog and its search index (orders live in orders.py)."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


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
