"""The in-memory search index: ranking, filters and paging over a catalog built in the test."""

from __future__ import annotations

import json
from random import Random

import pytest

from kafka_restaurants.api.search import index_terms
from kafka_restaurants.api.search_index import CatalogIndex, CatalogRow, SearchQuery

# (id, name, style, vegetarian, delivery, menu)
PLACES = [
    (1, "Amore Mio", "Italian", True, True, ["Pizza Margherita"]),
    (2, "pizza Makpiza", "Italian", False, False, ["Pizza Pepperoni", "Calzone"]),
    (3, "Cafe Italia", "Italian", False, True, ["Lasagna", "Tiramisu"]),
    (4, "Shawarma", "Israeli", False, False, ["Shawarma in pita", "Hummus"]),
    (5, "Hummus Sababa", "Israeli", False, False, ["Hummus masabacha", "Falafel"]),
    (6, "Sabich", "Israeli", True, True, ["Sabich in pita"]),
    (7, "Peking Duck House", "Chinese", True, True, ["Tofu duck"]),
    (8, "amore pizza", "Italian", False, True, ["Pizza bianca"]),
]


def build(places: list[tuple[int, str, str, bool, bool, list[str]]]) -> CatalogIndex:
    rows = [
        CatalogRow(i, name, style, veg, dlv, json.dumps({"id": i, "name": name}).encode())
        for i, name, style, veg, dlv, _menu in places
    ]
    terms = sorted(
        (term, i, weight)
        for i, name, style, _veg, _dlv, menu in places
        for term, weight in index_terms(name, style, menu).items()
    )
    return CatalogIndex(rows, terms, generation=3)


INDEX = build(PLACES)


def names(index: CatalogIndex, **fields: object) -> list[str]:
    return [r["name"] for r in json.loads(index.search(SearchQuery(**fields)).body)]  # type: ignore[arg-type]


def test_without_free_text_lists_alphabetically_ignoring_case() -> None:
    assert names(INDEX) == [
        "Amore Mio",
        "amore pizza",
        "Cafe Italia",
        "Hummus Sababa",
        "Peking Duck House",
        "pizza Makpiza",
        "Sabich",
        "Shawarma",
    ]


def test_name_matches_outrank_menu_matches_and_ties_go_alphabetically() -> None:
    # "pizza" is in the names of 2 and 8 (weight 30) and on the menu of 1 (weight 10).
    assert names(INDEX, q="pizza") == ["amore pizza", "pizza Makpiza", "Amore Mio"]


def test_every_query_word_that_means_something_must_match() -> None:
    assert names(INDEX, q="hummus falafel") == ["Hummus Sababa"]
    assert names(INDEX, q="hummus xyzzy") == ["Hummus Sababa", "Shawarma"]
    assert names(INDEX, q="xyzzy") == []


def test_typos_and_prefixes_find_the_word() -> None:
    assert "Shawarma" in names(INDEX, q="shawrma")
    assert names(INDEX, q="tiram") == ["Cafe Italia"]


def test_filters_combine_with_free_text_and_each_other() -> None:
    assert names(INDEX, q="pizza", delivery=True) == ["amore pizza", "Amore Mio"]
    assert names(INDEX, restaurant_style="ITALIAN", vegetarian=True) == ["Amore Mio"]
    assert names(INDEX, restaurant_name="AMORE", vegetarian=False) == ["amore pizza"]
    assert names(INDEX, restaurant_style="Klingon") == []


def test_total_counts_every_match_not_just_the_page() -> None:
    answer = INDEX.search(SearchQuery(q="pizza", limit=1, offset=1))
    assert answer.total == 3
    assert json.loads(answer.body) == [{"id": 2, "name": "pizza Makpiza"}]
    past_the_end = INDEX.search(SearchQuery(restaurant_style="israeli", offset=50))
    assert (past_the_end.body, past_the_end.total) == (b"[]", 3)


def test_styles_are_listed_once_alphabetically() -> None:
    assert INDEX.styles == ["Chinese", "Israeli", "Italian"]


@pytest.mark.parametrize("limit", [1, 3, 7, 50])
def test_pages_put_together_are_the_whole_ranking(limit: int) -> None:
    """The partial sort used for early pages agrees with the full sort used for late ones."""
    rng = Random(5)
    words = ["pizza", "pasta", "salad", "soup", "curry", "sushi"]
    places = [
        (
            i,
            f"{rng.choice(['Cafe', 'House', 'Pizza', 'Soup'])} {i % 13}",
            rng.choice(["Italian", "Thai"]),
            rng.random() < 0.5,
            rng.random() < 0.5,
            rng.sample(words, 3),
        )
        for i in range(1, 301)
    ]
    index = build(places)
    full = json.loads(index.search(SearchQuery(q="pizza soup", limit=100)).body)
    total = index.search(SearchQuery(q="pizza soup")).total
    assert len(full) == min(total, 100) and total > limit
    pages = []
    for offset in range(0, 100, limit):
        pages += json.loads(
            index.search(SearchQuery(q="pizza soup", limit=limit, offset=offset)).body
        )
    assert pages[: len(full)] == full
    scores_fall = [r["name"].split()[0] in ("Pizza", "Soup") for r in full]
    assert scores_fall == sorted(scores_fall, reverse=True)  # name matches first


def test_an_empty_catalog_answers_every_query_with_nothing() -> None:
    empty = build([])
    for fields in ({}, {"q": "pizza"}, {"restaurant_name": "a"}, {"restaurant_style": "x"}):
        answer = empty.search(SearchQuery(**fields))  # type: ignore[arg-type]
        assert (answer.body, answer.total) == (b"[]", 0)
    assert empty.styles == []
