"""The catalog as an in-memory search index: free text, filters, ranking and paging.

The database stays the source of truth (restaurants and the `search_terms` inverted index are
written there by the seed). Every api process loads them into arrays once, answers searches
without a database round trip, and reloads when the catalog's generation changes. Ten thousand
restaurants take a few megabytes; a search is a handful of vectorised operations over them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

import numpy as np
import numpy.typing as npt
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.api.schemas import RestaurantSummary
from kafka_restaurants.api.search import Vocabulary, matched_tokens, tokenize
from kafka_restaurants.api.tables import CatalogState, Restaurant, SearchTerm
from kafka_restaurants.periodic import Periodic

log = logging.getLogger(__name__)

_SUMMARY = TypeAdapter(RestaurantSummary)

Positions = npt.NDArray[np.int32]


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
class SearchAnswer:
    """One page of restaurants, already encoded as a JSON array, and how many matched in all."""

    body: bytes
    total: int


@dataclass(frozen=True)
class CatalogRow:
    """What the index keeps of one restaurant."""

    id: int
    name: str
    style: str
    vegetarian: bool
    delivery: bool
    summary_json: bytes


@dataclass(frozen=True)
class Posting:
    """One indexed word: the restaurants (by position) it appears in and its weight in each."""

    positions: Positions
    weights: npt.NDArray[np.int32]


class CatalogIndex:
    """An immutable snapshot of the catalog, ready to search; swap in a new one to update.

    `terms` are (word, restaurant id, weight) rows sorted by word.
    """

    def __init__(
        self, rows: Iterable[CatalogRow], terms: Iterable[tuple[str, int, int]], generation: int
    ) -> None:
        # Position in (lower-cased name, id) order is the tie-break of every ranking, so rows
        # are stored in that order and a position doubles as the sort key.
        self.rows = sorted(rows, key=lambda row: (row.name.casefold(), row.id))
        self.generation = generation
        self._names = np.array([row.name.casefold() for row in self.rows], dtype=np.str_)
        self._styles = sorted({row.style for row in self.rows})
        style_codes = {
            style: code for code, style in enumerate(sorted({s.casefold() for s in self._styles}))
        }
        self._style_codes = style_codes
        self._style_of = np.array(
            [style_codes[row.style.casefold()] for row in self.rows], np.int32
        )
        self._vegetarian = np.array([row.vegetarian for row in self.rows], bool)
        self._delivery = np.array([row.delivery for row in self.rows], bool)
        position_of = {row.id: position for position, row in enumerate(self.rows)}
        self._postings: dict[str, Posting] = {}
        # Terms arrive grouped by word, so each word's arrays are built and its rows let go.
        for term, group in groupby(terms, key=itemgetter(0)):
            pairs = [(position_of[r], w) for _, r, w in group if r in position_of]
            if pairs:
                positions, weights = zip(*pairs, strict=True)
                self._postings[term] = Posting(
                    np.array(positions, np.int32), np.array(weights, np.int32)
                )
        self.vocabulary = Vocabulary(self._postings)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def styles(self) -> list[str]:
        """Every style in the catalog, alphabetically."""
        return list(self._styles)

    def search(self, query: SearchQuery) -> SearchAnswer:
        """Restaurants matching the filters and free text, best match first, one page of them."""
        tokens = tokenize(query.q or "")
        if tokens:
            scores = self._score(tokens)
            if scores is None:
                return SearchAnswer(b"[]", 0)
            selected = np.flatnonzero(self._filter_mask(query, scores > 0))
            page = self._best_first(selected, scores[selected], query.offset + query.limit)
        else:
            selected = np.flatnonzero(self._filter_mask(query, None))
            page = selected[: query.offset + query.limit]
        shown = page[query.offset :]
        body = b"[" + b",".join(self.rows[p].summary_json for p in shown.tolist()) + b"]"
        return SearchAnswer(body, int(selected.size))

    def _score(self, tokens: Sequence[str]) -> npt.NDArray[np.int64] | None:
        """Each restaurant's score (0 = not a match): the best reading of each query word,
        summed; every query word that means anything in the catalog must match."""
        matches = self.vocabulary.expand(tokens)
        if not matches:
            return None
        size = len(self.rows)
        total = np.zeros(size, np.int64)
        words = np.zeros(size, np.int32)
        for token in sorted({m.token for m in matches}):
            best = np.zeros(size, np.int64)
            for match in (m for m in matches if m.token == token):
                posting = self._postings[match.term]
                candidate = posting.weights * match.quality
                best[posting.positions] = np.maximum(best[posting.positions], candidate)
            total += best
            words += best > 0
        total[words < matched_tokens(matches)] = 0
        return total

    def _filter_mask(
        self, query: SearchQuery, mask: npt.NDArray[np.bool_] | None
    ) -> npt.NDArray[np.bool_]:
        if mask is None:
            mask = np.ones(len(self.rows), bool)
        if query.restaurant_style:
            code = self._style_codes.get(query.restaurant_style.casefold())
            if code is None:
                return np.zeros(len(self.rows), bool)
            mask &= self._style_of == code
        if query.vegetarian is not None:
            mask &= self._vegetarian == query.vegetarian
        if query.delivery is not None:
            mask &= self._delivery == query.delivery
        if query.restaurant_name:
            # A vectorised substring test over the names still in the running.
            candidates = np.flatnonzero(mask)
            found = np.char.find(self._names[candidates], query.restaurant_name.casefold()) >= 0
            mask = np.zeros(len(self.rows), bool)
            mask[candidates[found]] = True
        return mask

    @staticmethod
    def _best_first(
        selected: npt.NDArray[np.intp], scores: npt.NDArray[np.int64], wanted: int
    ) -> npt.NDArray[np.intp]:
        """The first `wanted` of `selected` by score, highest first, then by position."""
        if selected.size == 0:
            return selected
        # One integer per restaurant that sorts like (-score, position).
        keys = (scores.max() - scores) * (int(selected.max()) + 1) + selected
        if wanted < keys.size:
            nearest = np.argpartition(keys, wanted - 1)[:wanted]
            return selected[nearest[np.argsort(keys[nearest])]]
        return selected[np.argsort(keys)]


class SearchResultCache:
    """Recent answers by key: popular searches repeat, so they skip even the in-memory search.

    Callers put the index generation in the key, so a reloaded catalog never serves old
    answers; `max_age_seconds` only bounds how long a rare entry holds memory.
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
        self._entries: OrderedDict[Hashable, tuple[float, SearchAnswer]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> SearchAnswer | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, value = entry
            if self.clock() - stored_at > self.max_age:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: SearchAnswer) -> None:
        with self._lock:
            self._entries[key] = (self.clock(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def load_index(session: Session) -> CatalogIndex:
    """The whole catalog and its inverted index, read in three queries."""
    # Generation first: a seed committing meanwhile then only causes one more reload.
    generation = current_generation(session)
    summary_columns = [getattr(Restaurant, name) for name in RestaurantSummary.model_fields]
    rows = [
        CatalogRow(
            id=r.id,
            name=r.name,
            style=r.style,
            vegetarian=r.vegetarian,
            delivery=r.delivery,
            summary_json=_SUMMARY.dump_json(RestaurantSummary.model_validate(r)),
        )
        for r in session.execute(select(*summary_columns))
    ]
    terms = session.execute(
        select(SearchTerm.term, SearchTerm.restaurant_id, SearchTerm.weight)
        .order_by(SearchTerm.term)
        .execution_options(yield_per=20_000)
    )
    return CatalogIndex(rows, terms, generation)


def current_generation(session: Session) -> int:
    """How many times the catalog has been written."""
    return session.scalar(select(CatalogState.generation).where(CatalogState.id == 1)) or 0


class LiveCatalogIndex:
    """The current index, reloaded in the background when the catalog's generation changes.

    Requests read `current` (an attribute read, no lock); the watcher swaps in a new index
    whole, so a search never sees half of a reload.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        poll_seconds: float = 2.0,
        on_reload: Callable[[CatalogIndex], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.poll_seconds = poll_seconds
        self.on_reload = on_reload
        self.current = self._load()
        self._watcher = Periodic(
            "search-index", self._refresh_or_keep, poll_seconds, first_at_once=False
        )

    def _load(self) -> CatalogIndex:
        with self.sessions() as session:
            index = load_index(session)
        log.info("search index loaded: %d restaurants, generation %d", len(index), index.generation)
        return index

    def refresh(self) -> bool:
        """Reload now if the catalog changed since the last load; True when it did."""
        with self.sessions() as session:
            generation = current_generation(session)
        if generation == self.current.generation:
            return False
        self.current = self._load()
        if self.on_reload:
            self.on_reload(self.current)
        return True

    def start(self) -> None:
        self._watcher.start()

    def stop(self) -> None:
        self._watcher.stop()

    def _refresh_or_keep(self) -> None:
        try:
            self.refresh()
        except Exception:  # the database may be briefly away; keep serving the old index
            log.exception("search index refresh failed; serving the previous catalog")
