"""Free-text search rules: tokenizing, index weights and typo-tolerant query expansion.

Pure functions over plain data; the database query that uses them lives in `catalog.py`.
Weights and qualities are integers so SQLite and PostgreSQL rank identically.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA
from rapidfuzz.process import extract

# Where a word appears decides how much a match on it is worth.
NAME_WEIGHT = 30
STYLE_WEIGHT = 20
MENU_WEIGHT = 10

# How well a query word matched an indexed word.
EXACT = 10
PREFIX = 7
# A missing or doubled letter ("piza") is the commonest slip, so it outranks a wrong letter
# ("pita" for "piza"); swapped neighbours count as one slip.
ONE_MISSING_OR_EXTRA = 6
ONE_TYPO = 5
TWO_TYPOS = 4

MAX_PREFIX_EXPANSIONS = 20
MAX_FUZZY_EXPANSIONS = 10
MAX_QUERY_TOKENS = 8
MIN_TOKEN_LENGTH = 2

_STOPWORDS = frozenset({"the", "and", "with", "of", "a", "an", "in", "on", "at", "de", "la", "le"})
_WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    """Lower-case and strip accents so 'Café' and 'cafe' are the same word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """The searchable words of `text`, in order, without stopwords or one-letter words."""
    return [
        word
        for word in _WORD.findall(normalise(text))
        if len(word) >= MIN_TOKEN_LENGTH and word not in _STOPWORDS
    ]


def index_terms(name: str, style: str, menu_item_names: Iterable[str]) -> dict[str, int]:
    """Each word of a restaurant with the weight of the best field it appears in."""
    weights: dict[str, int] = {}
    for text, weight in [(name, NAME_WEIGHT), (style, STYLE_WEIGHT)] + [
        (item, MENU_WEIGHT) for item in menu_item_names
    ]:
        for term in tokenize(text):
            if weights.get(term, 0) < weight:
                weights[term] = weight
    return weights


@dataclass(frozen=True)
class TermMatch:
    """An indexed word that stands for query word number `token` with a match `quality`."""

    term: str
    token: int
    quality: int


def allowed_typos(word: str) -> int:
    """Edits tolerated for a word of this length: none for short words, more for long ones."""
    if len(word) <= 3:
        return 0
    if len(word) <= 6:
        return 1
    return 2


def typo_quality(token: str, term: str, distance: int) -> int:
    """How good a near miss is: one missing/extra letter > one wrong letter > two slips."""
    if distance >= 2:
        return TWO_TYPOS
    return ONE_MISSING_OR_EXTRA if len(token) != len(term) else ONE_TYPO


class Vocabulary:
    """Every indexed word, sorted, for prefix lookups and fuzzy matching."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms: list[str] = sorted(set(terms))
        self._members = frozenset(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def with_prefix(self, prefix: str, limit: int) -> list[str]:
        start = bisect.bisect_left(self.terms, prefix)
        found: list[str] = []
        for term in self.terms[start:]:
            if not term.startswith(prefix) or len(found) >= limit:
                break
            if term != prefix:
                found.append(term)
        return found

    def expand(self, tokens: Sequence[str]) -> list[TermMatch]:
        """Indexed words that each query word may mean: itself, longer words, near misses."""
        matches: dict[tuple[str, int], int] = {}

        def keep(term: str, token: int, quality: int) -> None:
            if matches.get((term, token), 0) < quality:
                matches[(term, token)] = quality

        for position, token in enumerate(tokens[:MAX_QUERY_TOKENS]):
            if token in self._members:
                keep(token, position, EXACT)
            for term in self.with_prefix(token, MAX_PREFIX_EXPANSIONS):
                keep(term, position, PREFIX)
            typos = allowed_typos(token)
            if typos:
                for term, distance, _ in extract(
                    token,
                    self.terms,
                    scorer=OSA.distance,
                    score_cutoff=typos,
                    limit=MAX_FUZZY_EXPANSIONS,
                ):
                    if distance > 0:
                        keep(term, position, typo_quality(token, term, int(distance)))
        # A query word that has a close reading (itself, a longer word, one letter missing or
        # extra) does not also need its far readings: "piza" means pizza, not pita.
        best: dict[int, int] = {}
        for (_term, word), quality in matches.items():
            best[word] = max(best.get(word, 0), quality)
        return [
            TermMatch(term, word, quality)
            for (term, word), quality in matches.items()
            if quality >= ONE_MISSING_OR_EXTRA or best[word] < ONE_MISSING_OR_EXTRA
        ]


def matched_tokens(matches: Iterable[TermMatch]) -> int:
    """How many distinct query words found at least one indexed word."""
    return len({match.token for match in matches})
