"""The in-memory inbox: order, bounds, read state, deletion, thread safety."""

from __future__ import annotations

import threading

import pytest

from kafka_restaurants.mailbox.messages import StoredMessage, parse_message
from kafka_restaurants.mailbox.search import parse_query
from kafka_restaurants.mailbox.store import MessageStore
from tests.unit.mailbox.samples import build_message


def _message(subject: str, to: str = "ann@example.com") -> StoredMessage:
    return parse_message(build_message(subject=subject, to=to))


def test_page_is_newest_first_with_counts() -> None:
    store = MessageStore()
    for n in range(5):
        store.add(_message(f"m{n}"))
    page = store.page(start=1, limit=2)
    assert [m.subject for m in page.messages] == ["m3", "m2"]
    assert (page.total, page.unread, page.matched, page.start) == (5, 5, 5, 1)


def test_oldest_messages_are_evicted_beyond_max_messages() -> None:
    store = MessageStore(max_messages=3)
    for n in range(5):
        store.add(_message(f"m{n}"))
    assert [m.subject for m in store.page().messages] == ["m4", "m3", "m2"]


def test_oldest_messages_are_evicted_beyond_max_bytes_but_newest_kept() -> None:
    first, second = _message("first"), _message("second")
    store = MessageStore(max_bytes=first.size + second.size - 1)
    store.add(first)
    store.add(second)
    assert [m.subject for m in store.page().messages] == ["second"]
    huge = MessageStore(max_bytes=1)
    huge.add(first)  # a single message bigger than the bound is still kept
    assert len(huge) == 1


def test_get_by_id_and_latest_marks_read_only_when_asked() -> None:
    store = MessageStore()
    older, newer = _message("older"), _message("newer")
    store.add(older)
    store.add(newer)
    assert store.get(older.id) is older
    assert older.read is False
    assert store.get("latest", mark_read=True) is newer
    assert newer.read is True
    assert store.page().unread == 1
    assert store.get("no-such-id") is None
    assert MessageStore().get("latest") is None


def test_search_page_counts_matches_separately() -> None:
    store = MessageStore()
    store.add(_message("pizza", to="ann@example.com"))
    store.add(_message("sushi", to="bob@example.com"))
    store.add(_message("pizza again", to="bob@example.com"))
    page = store.page(terms=parse_query("subject:pizza"))
    assert [m.subject for m in page.messages] == ["pizza again", "pizza"]
    assert (page.total, page.matched) == (3, 2)


def test_delete_some_all_and_matching() -> None:
    store = MessageStore()
    messages = [_message(f"m{n}", to=f"user{n}@example.com") for n in range(4)]
    for m in messages:
        store.add(m)
    assert store.delete([messages[0].id, "unknown"]) == 1
    assert store.delete_matching(parse_query("to:user1@")) == 1
    assert [m.subject for m in store.page().messages] == ["m3", "m2"]
    assert store.delete() == 2
    assert len(store) == 0


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_messages"):
        MessageStore(max_messages=0)


def test_concurrent_adds_and_reads_keep_the_bound() -> None:
    store = MessageStore(max_messages=50)
    template = _message("x")

    def writer(worker: int) -> None:
        for n in range(100):
            copy = parse_message(template.raw, message_db_id=f"{worker}-{n}")
            store.add(copy)
            store.page(limit=10)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 50
    assert store.page(limit=100).total == 50
