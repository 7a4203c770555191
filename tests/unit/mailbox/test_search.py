"""Mailpit-style search queries: parsing and matching."""

from __future__ import annotations

import pytest

from kafka_restaurants.mailbox.messages import StoredMessage, parse_message
from kafka_restaurants.mailbox.search import (
    SearchQueryError,
    SearchTerm,
    matches,
    parse_query,
    split_query,
)
from tests.unit.mailbox.samples import build_message


def test_split_query_keeps_quoted_phrases() -> None:
    assert split_query('to:ann "order total" subject:"big pizza" x') == [
        "to:ann",
        "order total",
        "subject:big pizza",
        "x",
    ]


def test_parse_query_fields_text_flags_and_exclusions() -> None:
    assert parse_query('To:Ann@Example.com subject:"Order 42" Pizza -from:spam !is:read') == [
        SearchTerm("to", "ann@example.com"),
        SearchTerm("subject", "order 42"),
        SearchTerm(None, "pizza"),
        SearchTerm("from", "spam", exclude=True),
        SearchTerm("is:read", "", exclude=True),
    ]


def test_unknown_prefix_is_plain_text() -> None:
    assert parse_query("order:42") == [SearchTerm(None, "order:42")]


def test_has_attachments_spelling_variants() -> None:
    assert parse_query("has:attachments") == parse_query("has:attachment")


@pytest.mark.parametrize("query", ["", "   ", '""', "to:", "subject: "])
def test_empty_query_is_an_error_naming_the_field(query: str) -> None:
    with pytest.raises(SearchQueryError, match="query"):
        parse_query(query)


@pytest.fixture
def message() -> StoredMessage:
    return parse_message(
        build_message(
            subject="Order 42 confirmed",
            to="Ann Example <ann@example.com>, bob@example.com",
            cc="chef@example.com",
        )
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("to:ann@example.com", True),
        ("to:bob", True),
        ("to:ANN example", True),  # two terms: To has "ann", and "example" is in the text
        ('to:"ann example"', True),
        ("to:carol@example.com", False),
        ("to:chef", False),  # Cc, not To
        ("cc:chef", True),
        ("addressed:chef", True),
        ("from:orders@kafka-restaurants.local", True),
        ("subject:order", True),
        ("subject:pizza", False),
        ('subject:"42 confirmed"', True),
        ("12.50", True),
        ("eur ann", True),
        ("eur carol", False),
        ("-subject:order", False),
        ("!to:carol", True),
        ("is:unread", True),
        ("is:read", False),
        ("has:attachment", False),
        ("message-id:order-1", True),
    ],
)
def test_matches(message: StoredMessage, query: str, expected: bool) -> None:
    assert matches(message, parse_query(query)) is expected


def test_read_flag_follows_the_message(message: StoredMessage) -> None:
    message.read = True
    assert matches(message, parse_query("is:read"))
    assert not matches(message, parse_query("is:unread"))
