"""Reading and writing the catalog in the database: menus, and loading seed data.

Searching happens in memory (`search_index.py`); writing here bumps the catalog's generation so
every api process reloads its index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from kafka_restaurants.api.schemas import MAX_ROW_ID
from kafka_restaurants.api.search import index_terms
from kafka_restaurants.api.tables import CatalogState, MenuItem, Restaurant, SearchTerm

MAX_LIMIT = 100


class MenuItemData(Protocol):
    """A menu item to write; read-only so frozen dataclasses fit."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def price_minor(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def vegetarian(self) -> bool: ...
    @property
    def available(self) -> bool: ...


class RestaurantData(Protocol):
    """A restaurant to write with its menu."""

    @property
    def name(self) -> str: ...
    @property
    def style(self) -> str: ...
    @property
    def vegetarian(self) -> bool: ...
    @property
    def delivery(self) -> bool: ...
    @property
    def description(self) -> str: ...
    @property
    def neighbourhood(self) -> str: ...
    @property
    def opening_hours(self) -> str: ...
    @property
    def menu(self) -> Iterable[MenuItemData]: ...


def get_restaurant(session: Session, restaurant_id: int) -> Restaurant | None:
    """The restaurant with its menu loaded, or None (also for an id no row can have)."""
    if not 1 <= restaurant_id <= MAX_ROW_ID:
        return None  # the database would fail on it (an INTEGER overflow), not just miss
    return session.scalar(
        select(Restaurant)
        .where(Restaurant.id == restaurant_id)
        .options(selectinload(Restaurant.menu))
    )


def catalog_size(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Restaurant)) or 0


def write_catalog(
    session: Session,
    restaurants: Iterable[RestaurantData],
    *,
    replace: bool = False,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert restaurants, their menus and their search index in batches; returns the count."""
    if replace:
        for table in (SearchTerm, MenuItem, Restaurant):
            session.execute(delete(table))
    next_id = (session.scalar(select(func.max(Restaurant.id))) or 0) + 1
    next_item_id = (session.scalar(select(func.max(MenuItem.id))) or 0) + 1
    rows: list[dict[str, object]] = []
    items: list[dict[str, object]] = []
    terms: list[dict[str, object]] = []
    written = 0

    def flush() -> None:
        if rows:
            session.execute(insert(Restaurant), rows)
            session.execute(insert(MenuItem), items)
            session.execute(insert(SearchTerm), terms)
            if progress:
                progress(len(rows))
        rows.clear()
        items.clear()
        terms.clear()

    for spec in restaurants:
        restaurant_id = next_id + written
        menu = list(spec.menu)
        rows.append(
            {
                "id": restaurant_id,
                "name": spec.name,
                "name_lower": spec.name.casefold(),
                "style": spec.style,
                "style_lower": spec.style.casefold(),
                "vegetarian": spec.vegetarian,
                "delivery": spec.delivery,
                "description": spec.description,
                "neighbourhood": spec.neighbourhood,
                "opening_hours": spec.opening_hours,
            }
        )
        for position, item in enumerate(menu):
            items.append(
                {
                    "id": next_item_id,
                    "restaurant_id": restaurant_id,
                    "position": position,
                    "category": item.category,
                    "name": item.name,
                    "description": item.description,
                    "price_minor": item.price_minor,
                    "currency": item.currency,
                    "vegetarian": item.vegetarian,
                    "available": item.available,
                }
            )
            next_item_id += 1
        for term, weight in index_terms(spec.name, spec.style, (i.name for i in menu)).items():
            terms.append({"term": term, "restaurant_id": restaurant_id, "weight": weight})
        written += 1
        if len(rows) >= batch_size:
            flush()
    flush()
    session.execute(
        update(CatalogState)
        .where(CatalogState.id == 1)
        .values(generation=CatalogState.generation + 1)
    )
    return written
