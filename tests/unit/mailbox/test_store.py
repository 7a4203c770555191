"""The in-memory inbox: order, bounds, read state, deletion, thread safety."""

from __future__ import annotations

import gc
import re
import threading
import tracemalloc
from unittest import mock

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


def test_byte_bound_counts_memory_held_and_evicts_oldest_first() -> None:
    messages = [_message(f"m{n}") for n in range(10)]
    footprint = messages[0].footprint
    assert footprint > messages[0].size  # raw bytes plus what is kept beside them
    store = MessageStore(max_bytes=footprint * 4 + footprint // 2)
    for m in messages:
        store.add(m)
    assert [m.subject for m in store.page().messages] == ["m9", "m8", "m7", "m6"]
    assert store.bytes_used == sum(m.footprint for m in messages[6:])
    store.delete([messages[9].id])
    assert store.bytes_used == sum(m.footprint for m in messages[6:9])
    store.delete()
    assert store.bytes_used == 0


def test_footprint_is_not_below_what_python_allocates() -> None:
    raws = [
        build_message(subject=f"order {n}", to=f"Customer {n} <c{n}@example.com>")
        for n in range(900)
    ]
    store = MessageStore()

    def receive(raw: bytes) -> None:
        # A copy, as SMTP hands each message over in a fresh bytes object.
        store.add(parse_message(bytes(bytearray(raw)), envelope_to=["audit@example.com"]))

    for raw in raws[:600]:
        receive(raw)  # warm up: first-use allocations are not per message
    used_before = store.bytes_used
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for raw in raws[600:]:
            receive(raw)
        # The MIME parser compiles a regex per multipart boundary into `re`'s cache, which is
        # bounded (512 entries) rather than per message: leave it out.
        re.purge()
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    allocated = after - before
    estimated = store.bytes_used - used_before
    assert allocated <= estimated
    assert estimated <= allocated * 1.5  # and not wildly above it either


def test_unread_count_follows_reads_deletes_evictions_and_replacement() -> None:
    store = MessageStore(max_messages=3)
    messages = [_message(f"m{n}") for n in range(3)]
    for m in messages:
        store.add(m)
    store.get(messages[0].id, mark_read=True)
    store.get(messages[0].id, mark_read=True)  # reading twice counts once
    assert store.page().unread == 2
    store.add(_message("m3"))  # evicts m0, which was read
    assert store.page().unread == 3
    store.delete([messages[1].id])
    assert store.page().unread == 2
    again = parse_message(messages[2].raw, message_db_id=messages[2].id)
    store.add(again)  # the same ID replaces the message
    assert len(store) == 2
    page = store.page()
    assert page.unread == sum(1 for m in page.messages if not m.read) == 2


def test_listing_without_a_query_does_not_look_at_every_message() -> None:
    store = MessageStore()
    for n in range(500):
        store.add(_message(f"m{n}"))
    with mock.patch("kafka_restaurants.mailbox.store.matches", side_effect=AssertionError):
        page = store.page(start=2, limit=3)
    assert [m.subject for m in page.messages] == ["m497", "m496", "m495"]
    assert (page.total, page.unread, page.matched, page.matched_unread) == (500, 500, 500, 500)


def test_search_still_finds_by_to_subject_and_text_with_lazy_bodies() -> None:
    store = MessageStore()
    store.add(_message("Pizza night", to="Ann <ann@example.com>"))
    store.add(_message("Sushi", to="bob@example.com"))
    assert [m.subject for m in store.page(terms=parse_query("to:ann@example.com")).messages] == [
        "Pizza night"
    ]
    assert [m.subject for m in store.page(terms=parse_query("subject:sushi")).messages] == ["Sushi"]
    assert len(store.page(terms=parse_query('"12.50 eur"')).messages) == 2  # body text
    assert store.page(terms=parse_query("addressed:bob -pizza")).matched == 1
