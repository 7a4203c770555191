"""Reading and writing the catalog: restaurant search, menus, and loading seed data."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, Select, delete, func, insert, literal, select, union_all
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import InstrumentedAttribute

from kafka_restaurants.api.search import Vocabulary, index_terms, matched_tokens, tokenize
from kafka_restaurants.api.tables import MenuItem, Restaurant, SearchTerm

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


@dataclass(frozen=True)
class SearchQuery:
    """What the customer asked for; every field optional, limits already validated."""

    q: str | None = None
    restaurant_name: str | None = None
    restaurant_style: str | None = None
    vegetarian: bool | None = None
    delivery: bool | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class SearchPage:
    restaurants: list[Restaurant]
    total: int


class VocabularyCache:
    """The indexed words, reloaded now and then so a re-seeded catalog is picked up."""

    def __init__(self, max_age_seconds: float = 60.0) -> None:
        self.max_age = max_age_seconds
        self._vocabulary: Vocabulary | None = None
        self._loaded_at = 0.0

    def get(self, session: Session) -> Vocabulary:
        now = time.monotonic()
        if self._vocabulary is None or now - self._loaded_at > self.max_age:
            terms = session.scalars(select(SearchTerm.term).distinct())
            self._vocabulary = Vocabulary(terms)
            self._loaded_at = now
        return self._vocabulary


# One page of answers, encoded as the response body, and the total count.
CachedAnswer = tuple[bytes, int]


class SearchResultCache:
    """Recent answers by query: popular searches repeat, and the catalog changes only on seed.

    Entries live `max_age_seconds`, so a re-seeded catalog shows within that time.
    """

    def __init__(
        self,
        max_entries: int = 4096,
        max_age_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_age = max_age_seconds
        self.clock = clock
        self._entries: OrderedDict[SearchQuery, tuple[float, CachedAnswer]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, query: SearchQuery) -> CachedAnswer | None:
        with self._lock:
            entry = self._entries.get(query)
            if entry is None:
                return None
            stored_at, value = entry
            if self.clock() - stored_at > self.max_age:
                del self._entries[query]
                return None
            self._entries.move_to_end(query)
            return value

    def put(self, query: SearchQuery, value: CachedAnswer) -> None:
        with self._lock:
            self._entries[query] = (self.clock(), value)
            self._entries.move_to_end(query)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(statement: Select, query: SearchQuery) -> Select:
    if query.restaurant_name:
        pattern = f"%{_escape_like(query.restaurant_name.casefold())}%"
        statement = statement.where(Restaurant.name_lower.like(pattern, escape="\\"))
    if query.restaurant_style:
        statement = statement.where(Restaurant.style_lower == query.restaurant_style.casefold())
    if query.vegetarian is not None:
        statement = statement.where(Restaurant.vegetarian == query.vegetarian)
    if query.delivery is not None:
        statement = statement.where(Restaurant.delivery == query.delivery)
    return statement


def search_restaurants(session: Session, vocabulary: Vocabulary, query: SearchQuery) -> SearchPage:
    """Restaurants matching the filters and free text, best match first, one page of them."""
    tokens = tokenize(query.q or "")
    if not tokens:
        return _page(
            session,
            _filtered(select(Restaurant), query),
            (Restaurant.name_lower, Restaurant.id),
            query,
        )

    matches = vocabulary.expand(tokens)
    if not matches:
        return SearchPage([], 0)
    candidates = union_all(
        *(
            select(
                literal(m.term).label("term"),
                literal(m.token).label("token"),
                literal(m.quality).label("quality"),
            )
            for m in matches
        )
    ).subquery("candidates")
    # Best match per (restaurant, query word), then summed over the words.
    per_word = (
        select(
            SearchTerm.restaurant_id.label("restaurant_id"),
            candidates.c.token,
            func.max(SearchTerm.weight * candidates.c.quality).label("score"),
        )
        .join(candidates, SearchTerm.term == candidates.c.term)
        .group_by(SearchTerm.restaurant_id, candidates.c.token)
        .subquery("per_word")
    )
    scored = (
        select(
            per_word.c.restaurant_id,
            func.sum(per_word.c.score).label("score"),
            func.count().label("words"),
        )
        .group_by(per_word.c.restaurant_id)
        .having(func.count() >= matched_tokens(matches))
        .subquery("scored")
    )
    ranked = _filtered(
        select(Restaurant).join(scored, scored.c.restaurant_id == Restaurant.id), query
    )
    return _page(
        session, ranked, (scored.c.score.desc(), Restaurant.name_lower, Restaurant.id), query
    )


def _page(
    session: Session,
    statement: Select[tuple[Restaurant]],
    order: tuple[ColumnElement[object] | InstrumentedAttribute[object], ...],
    query: SearchQuery,
) -> SearchPage:
    # The total rides along as a window count, so one query answers page and total.
    rows = session.execute(
        statement.add_columns(func.count().over().label("total"))
        .order_by(*order)
        .limit(query.limit)
        .offset(query.offset)
    ).all()
    if rows:
        return SearchPage([row[0] for row in rows], int(rows[0].total))
    if query.offset == 0:
        return SearchPage([], 0)
    # Paged past the end: the window saw no rows, so count separately.
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    return SearchPage([], total)


def get_restaurant(session: Session, restaurant_id: int) -> Restaurant | None:
    """The restaurant with its menu loaded, or None."""
    return session.scalar(
        select(Restaurant)
        .where(Restaurant.id == restaurant_id)
        .options(selectinload(Restaurant.menu))
    )


def list_styles(session: Session) -> list[str]:
    """Every style in the catalog, alphabetically, for the search filters."""
    return list(session.scalars(select(Restaurant.style).distinct().order_by(Restaurant.style)))


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
    return written
