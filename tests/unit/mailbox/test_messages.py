"""Parsing received bytes into the fields the API and pages show."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kafka_restaurants.mailbox import messages, mime
from kafka_restaurants.mailbox.messages import (
    SNIPPET_LENGTH,
    MailAddress,
    detail_json,
    html_to_text,
    make_snippet,
    parse_message,
    rfc3339,
    summary_json,
)
from tests.unit.mailbox.samples import build_message

RECEIVED = datetime(2026, 3, 3, 9, 15, 30, 123000, tzinfo=UTC)


def test_multipart_alternative_gives_addresses_subject_text_and_html() -> None:
    raw = build_message(cc="Chef <chef@example.com>")
    message = parse_message(raw, envelope_from="orders@kafka-restaurants.local")

    assert message.sender == MailAddress("Kafka Restaurants", "orders@kafka-restaurants.local")
    assert message.to == [MailAddress("Ann Example", "ann@example.com")]
    assert message.cc == [MailAddress("Chef", "chef@example.com")]
    assert message.subject == "Your order is confirmed"
    assert message.message_id == "order-1@kafka-restaurants.local"
    assert message.text.strip() == "Hello Ann,\nyour order total is 12.50 EUR."
    assert message.html.strip() == "<p>Hello <b>Ann</b>,</p><p>your order total is 12.50 EUR.</p>"
    assert message.size == len(raw)
    assert message.raw == raw
    assert message.read is False


def test_encoded_unicode_subject_and_display_names_are_decoded() -> None:
    raw = build_message(
        subject="Commande confirmée 🍕 für Zoë", sender="Café Zoë <cafe@example.com>"
    )
    assert b"Zo\xc3\xab" not in raw.split(b"\n\n")[0]  # the headers really are RFC 2047 encoded
    message = parse_message(raw)
    assert message.subject == "Commande confirmée 🍕 für Zoë"
    assert message.sender == MailAddress("Café Zoë", "cafe@example.com")


def test_several_recipients_and_envelope_only_recipients_become_bcc() -> None:
    raw = build_message(to="Ann <ann@example.com>, bob@example.com")
    message = parse_message(
        raw, envelope_to=["ann@example.com", "BOB@example.com", "audit@example.com"]
    )
    assert [a.address for a in message.to] == ["ann@example.com", "bob@example.com"]
    assert message.bcc == [MailAddress("", "audit@example.com")]


def test_html_only_message_gets_text_derived_from_visible_html() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head>"
        "<body><p>Order&nbsp;<b>42</b> confirmed</p><script>alert(1)</script>"
        "<p>Bye</p></body></html>"
    )
    message = parse_message(build_message(text=None, html=html))
    assert message.html.strip() == html
    assert message.text == "Order 42 confirmed\nBye"  # nbsp collapses like any space
    assert "alert" not in message.snippet and "color" not in message.snippet


def test_text_only_message_has_no_html() -> None:
    message = parse_message(build_message(html=None))
    assert message.html == ""
    assert "12.50 EUR" in message.text


def test_missing_from_falls_back_to_envelope_sender() -> None:
    raw = b"To: ann@example.com\r\nSubject: bare\r\n\r\nbody\r\n"
    message = parse_message(raw, envelope_from="bounce@example.com")
    assert message.sender == MailAddress("", "bounce@example.com")
    assert message.subject == "bare"
    assert message.text.strip() == "body"


def test_garbage_bytes_do_not_raise() -> None:
    raw = b"\xff\xfe not a header\r\n\x00\x01\x02\r\n\r\n\xc3\x28 broken utf-8"
    message = parse_message(raw)
    assert message.size == len(raw)
    assert message.subject == ""


def test_undecodable_charset_is_replaced_not_fatal() -> None:
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\n"
        b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nhello \xff\r\n"
    )
    message = parse_message(raw)
    assert "hello" in message.text


def test_attachments_are_listed_without_being_the_body() -> None:
    message = parse_message(build_message(attachment=b"%PDF-1.4 fake"))
    assert [(a.file_name, a.content_type, a.size) for a in message.attachments] == [
        ("receipt.pdf", "application/pdf", 13)
    ]
    assert "12.50 EUR" in message.text


def test_summary_json_has_mailpit_fields() -> None:
    message = parse_message(build_message(), received_at=RECEIVED, message_db_id="abc")
    summary = summary_json(message)
    assert summary["ID"] == "abc"
    assert summary["MessageID"] == "order-1@kafka-restaurants.local"
    assert summary["From"] == {
        "Name": "Kafka Restaurants",
        "Address": "orders@kafka-restaurants.local",
    }
    assert summary["To"] == [{"Name": "Ann Example", "Address": "ann@example.com"}]
    assert summary["Cc"] == []
    assert summary["Subject"] == "Your order is confirmed"
    assert summary["Created"] == "2026-03-03T09:15:30.123Z"
    assert summary["Size"] == message.size
    assert summary["Snippet"] == "Hello Ann, your order total is 12.50 EUR."
    assert summary["Attachments"] == 0
    assert "Text" not in summary and "HTML" not in summary


def test_detail_json_adds_text_html_and_header_date() -> None:
    message = parse_message(build_message(), received_at=RECEIVED)
    detail = detail_json(message)
    assert detail["Date"] == "2026-03-03T09:15:00.000Z"  # from the Date header, in UTC
    assert detail["Created"] == "2026-03-03T09:15:30.123Z"
    assert "12.50 EUR" in detail["Text"]
    assert "<b>Ann</b>" in detail["HTML"]
    assert detail["Attachments"] == []


def test_snippet_is_collapsed_and_bounded() -> None:
    assert make_snippet("  a\n\n b\tc ") == "a b c"
    long = make_snippet("word " * 200)
    assert len(long) == SNIPPET_LENGTH
    assert long.endswith("…")


def test_html_to_text_keeps_blocks_on_lines() -> None:
    assert html_to_text("<div>One</div><div>Two <i>and</i> a half</div>") == "One\nTwo and a half"


def test_rfc3339_converts_to_utc() -> None:
    moment = datetime.fromisoformat("2026-01-02T03:04:05.678+02:00")
    assert rfc3339(moment) == "2026-01-02T01:04:05.678Z"


def test_search_text_covers_subject_addresses_and_body() -> None:
    message = parse_message(build_message(subject="Pizza Night"))
    assert "pizza night" in message.search_text
    assert "ann@example.com" in message.search_text
    assert "12.50 eur" in message.search_text


def test_crlf_line_endings_from_smtp_become_newlines() -> None:
    raw = build_message().replace(b"\n", b"\r\n")
    message = parse_message(raw)
    assert message.text.strip() == "Hello Ann,\nyour order total is 12.50 EUR."
    assert "\r" not in message.html


def test_bodies_and_headers_are_parsed_lazily_once_and_match_the_full_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = build_message(cc="Chef <chef@example.com>", attachment=b"%PDF-1.4 fake")
    calls: list[bytes] = []

    def counting(raw: bytes) -> mime.Details:
        calls.append(raw)
        return mime.read_details(raw)

    monkeypatch.setattr(messages, "read_details", counting)
    message = parse_message(raw, received_at=RECEIVED, envelope_from="bounce@example.com")
    summary = summary_json(message)
    assert calls == []  # listing a message never runs the full parse
    detail = detail_json(message)
    assert message.headers["Cc"] == ["Chef <chef@example.com>"]
    assert len(calls) == 1  # the second look comes from the cache

    full = mime.read_summary_fully(raw)
    details = mime.read_details(raw)
    assert detail == summary | {
        "ReturnPath": "bounce@example.com",
        "Date": "2026-03-03T09:15:00.000Z",
        "Text": full.text,
        "HTML": details.html,
        "Inline": [],
        "Attachments": [a.to_json() for a in details.attachments],
    }
    assert summary["Attachments"] == len(details.attachments) == 1
    assert summary["Snippet"] == make_snippet(full.text)


def test_details_cache_is_bounded() -> None:
    cache = messages._DetailsCache(max_entries=2, max_bytes=10**9)
    stored = [parse_message(build_message(subject=f"m{n}")) for n in range(3)]
    for message in stored:
        cache.get(message)
    assert [entry[0] for entry in cache._entries.values()] == stored[1:]
    small = messages._DetailsCache(max_entries=10, max_bytes=stored[0].size)
    for message in stored:
        small.get(message)
    assert len(small._entries) == 1  # over the byte bound only the newest stays


@pytest.mark.parametrize(
    "text",
    [
        "",
        "short text",
        "word " * 2000,
        " " * 5000 + "late words " * 10,
        ("x" * 249 + " ") * 20,
        "a" * 1999 + " tail " + "b" * 300,
        "\n\t ".join(str(n) for n in range(3000)),
    ],
)
def test_snippet_of_a_long_text_equals_collapsing_all_of_it(text: str) -> None:
    collapsed = " ".join(text.split())
    expected = collapsed
    if len(collapsed) > SNIPPET_LENGTH:
        expected = collapsed[: SNIPPET_LENGTH - 1].rstrip() + "…"
    assert make_snippet(text) == expected
