"""The search answer cache: least recently used goes first, old answers expire."""

from kafka_restaurants.api.search_index import SearchAnswer, SearchQuery, SearchResultCache


def test_keeps_recent_answers_and_evicts_the_least_recently_used() -> None:
    cache = SearchResultCache(max_entries=2)
    a, b, c = SearchQuery(q="a"), SearchQuery(q="b"), SearchQuery(q="c")
    cache.put(a, SearchAnswer(b"A", 1))
    cache.put(b, SearchAnswer(b"B", 1))
    assert cache.get(a) == SearchAnswer(b"A", 1)  # a is now the most recent
    cache.put(c, SearchAnswer(b"C", 1))
    assert cache.get(b) is None
    assert cache.get(a) == SearchAnswer(b"A", 1)
    assert cache.get(c) == SearchAnswer(b"C", 1)


def test_answers_expire() -> None:
    now = [100.0]
    cache = SearchResultCache(max_age_seconds=30.0, clock=lambda: now[0])
    query = SearchQuery(q="pizza", vegetarian=True)
    cache.put(query, SearchAnswer(b"[]", 0))
    now[0] += 29.0
    assert cache.get(query) == SearchAnswer(b"[]", 0)
    now[0] += 2.0
    assert cache.get(query) is None


def test_queries_differing_in_any_field_are_different_entries() -> None:
    cache = SearchResultCache()
    cache.put(SearchQuery(q="pizza", limit=10), SearchAnswer(b"first page", 30))
    assert cache.get(SearchQuery(q="pizza", limit=10, offset=10)) is None
    assert cache.get(SearchQuery(q="pizza", limit=10)) == SearchAnswer(b"first page", 30)
