"""The confirmation email: subject, bodies, headers, escaping."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, message_from_string, policy
from email.errors import HeaderParseError
from email.message import EmailMessage, Message
from email.policy import Policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kafka_restaurants.events import Delivery
from kafka_restaurants.mailer.rendering import (
    BOUNDARY,
    build_confirmation,
    envelope_sender,
    format_money,
    message_id_for,
    short_order_number,
)
from tests.unit.mailer.samples import confirmed

BASE = "https://food.example"
FROM = "Kafka Restaurants <orders@kafka-restaurants.local>"


def parsed(message: Message) -> EmailMessage:
    """The message as a receiving server would see it: serialised, then parsed back."""
    result = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(result, EmailMessage)
    return result


def bodies(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def test_multipart_alternative_with_text_and_html() -> None:
    message = parsed(build_confirmation(confirmed(), FROM, BASE))
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]


def test_headers_address_the_customer() -> None:
    message = parsed(build_confirmation(confirmed(), FROM, BASE))
    assert message["To"].addresses[0].addr_spec == "dana@example.com"
    assert message["To"].addresses[0].display_name == "Dana Levi"
    assert message["From"].addresses[0].addr_spec == "orders@kafka-restaurants.local"
    assert message["Subject"] == "Your order from Falafel Haifa is confirmed (#0f8fad5b)"
    assert message["Message-ID"] == "<order-0f8fad5b-d9cb-469f-a165-70867728950e@kafka-restaurants>"
    assert message["Date"] is not None


@pytest.mark.parametrize("part", [0, 1])
def test_bodies_show_items_totals_link_and_delivery(part: int) -> None:
    body = bodies(parsed(build_confirmation(confirmed(), FROM, BASE)))[part]
    assert "0f8fad5b" in body
    assert "Falafel Haifa" in body
    assert "Falafel plate" in body and "Lemonade" in body
    assert "₪42.00" in body and "₪12.50" in body
    assert "₪54.50" in body
    assert f"{BASE}/orders/0f8fad5b-d9cb-469f-a165-70867728950e" in body
    assert "12 Herzl St, Haifa" in body
    assert "Pickup" not in body


def test_text_lines_read_quantity_times_name() -> None:
    text, _ = bodies(parsed(build_confirmation(confirmed(), FROM, BASE)))
    assert "2 x Falafel plate  ₪42.00" in text
    assert "1 x Lemonade  ₪12.50" in text
    assert "Total: ₪54.50" in text


@pytest.mark.parametrize("part", [0, 1])
def test_pickup_orders_say_pickup_and_no_address(part: int) -> None:
    event = confirmed(delivery=Delivery(mode="pickup"))
    body = bodies(parsed(build_confirmation(event, FROM, BASE)))[part]
    assert "Pickup at Falafel Haifa" in body
    assert "Delivery to" not in body


def test_html_escapes_names_text_keeps_them() -> None:
    event = confirmed(restaurant="<script>alert(1)</script> Diner", name="Eve <b>&</b>")
    text, html = bodies(parsed(build_confirmation(event, FROM, BASE)))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Diner" in html
    assert "Eve &lt;b&gt;&amp;&lt;/b&gt;" in html
    assert "<script>alert(1)</script> Diner" in text


def test_header_injection_in_names_is_neutralised() -> None:
    event = confirmed(restaurant="Evil\r\nBcc: victim@example.com", name="Mal\nlory")
    raw = build_confirmation(event, FROM, BASE).as_bytes()
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Bcc"] is None
    assert "Evil Bcc: victim@example.com" in str(message["Subject"])


def test_non_ascii_names_are_encoded_and_read_back() -> None:
    event = confirmed(restaurant="Café Ünïcode שלום", name="Zoë Ölmez")
    raw = build_confirmation(event, FROM, BASE).as_bytes()
    raw.decode("ascii")  # every header RFC 2047-encoded, every body base64: 7-bit clean
    message = parsed(build_confirmation(event, FROM, BASE))
    assert message["Subject"] == "Your order from Café Ünïcode שלום is confirmed (#0f8fad5b)"
    assert message["To"].addresses[0].display_name == "Zoë Ölmez"
    text, html = bodies(message)
    assert "Café Ünïcode שלום" in text and "Café Ünïcode שלום" in html
    assert "Zoë Ölmez" in text


def test_an_internationalised_address_gets_an_smtputf8_message() -> None:
    event = confirmed(email="dåna@exämple.com")
    message = build_confirmation(event, FROM, BASE)
    assert isinstance(message, EmailMessage)
    raw = message.as_bytes()  # SMTPUTF8: raw UTF-8 headers, as servers with SMTPUTF8 take them
    back = message_from_string(raw.decode("utf-8"), policy=policy.default)
    assert isinstance(back, EmailMessage)
    assert back["To"].addresses[0].addr_spec == "dåna@exämple.com"
    assert back["Message-ID"] == message_id_for(event.order_id)
    assert [part.get_content_type() for part in back.iter_parts()] == ["text/plain", "text/html"]
    assert "₪54.50" in bodies(back)[1]


def test_unicode_line_separators_cannot_start_a_header() -> None:
    event = confirmed(restaurant="Evil\u2028Bcc: a@example.com\x85Cc: b@example.com")
    message = parsed(build_confirmation(event, FROM, BASE))
    assert message["Bcc"] is None and message["Cc"] is None


def test_order_id_is_escaped_in_the_link() -> None:
    text, _ = bodies(parsed(build_confirmation(confirmed(order_id="a/b?c"), FROM, BASE)))
    assert f"{BASE}/orders/a%2Fb%3Fc" in text


def test_link_has_no_double_slash_when_base_url_ends_with_slash() -> None:
    text, _ = bodies(parsed(build_confirmation(confirmed(order_id="abc"), FROM, BASE + "/")))
    assert f"{BASE}/orders/abc" in text


def test_date_header_uses_the_given_time() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    message = build_confirmation(confirmed(), FROM, BASE, now=when)
    assert message["Date"] == "Fri, 02 Jan 2026 03:04:05 +0000"


def test_message_id_is_stable_per_order_and_distinct_between_orders() -> None:
    first = build_confirmation(confirmed("order-1"), FROM, BASE)
    again = build_confirmation(confirmed("order-1"), FROM, BASE)
    other = build_confirmation(confirmed("order-2"), FROM, BASE)
    assert first["Message-ID"] == again["Message-ID"] == message_id_for("order-1")
    assert other["Message-ID"] != first["Message-ID"]


def test_message_id_stays_a_valid_msg_id_for_odd_order_ids() -> None:
    assert message_id_for("a b<c>@d") == "<order-a_b_c__d@kafka-restaurants>"


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (5450, "ILS", "₪54.50"),
        (5, "ILS", "₪0.05"),
        (123456789, "USD", "$1,234,567.89"),
        (1250, "CHF", "12.50 CHF"),
        (1500, "JPY", "1,500 JPY"),
        (1234, "KWD", "1.234 KWD"),
        (0, "EUR", "€0.00"),
    ],
)
def test_money_is_formatted_from_minor_units(minor: int, currency: str, shown: str) -> None:
    assert format_money(minor, currency) == shown


def test_short_order_number_and_envelope_sender() -> None:
    assert short_order_number("0f8fad5b-d9cb-469f") == "0f8fad5b"
    assert envelope_sender(FROM) == "orders@kafka-restaurants.local"
    assert envelope_sender("plain@example.com") == "plain@example.com"


WIRE = policy.compat32.clone(linesep="\r\n")
HEADER_NAMES = ("Subject", "To", "From", "Message-ID", "X-Order-ID", "Content-Type")


@settings(max_examples=500, deadline=None)
@given(
    name=st.sampled_from(HEADER_NAMES),
    value=st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=120)
    | st.text(max_size=40),
)
def test_headers_are_written_as_compat32_folds_them(name: str, value: str) -> None:
    # The shortcut for short one-line ASCII headers must write what compat32's folding does.
    message = build_confirmation(confirmed(), FROM, BASE)
    assert folded(message.policy, name, value) == folded(WIRE, name, value)


def folded(wire: Policy, name: str, value: str) -> bytes | str:
    """The header as `wire` writes it, or the error it raises instead."""
    try:
        return wire.fold_binary(name, value)
    except HeaderParseError as exc:
        return str(exc)


def test_the_fixed_boundary_only_separates_the_base64_parts() -> None:
    event = confirmed(restaurant="--=_kafka-restaurants_alternative_= Café", name="--")
    message = build_confirmation(event, FROM, BASE)
    assert message.get_boundary() == BOUNDARY
    raw = message.as_bytes()
    assert raw.count(f"--{BOUNDARY}".encode()) == 3  # two parts, then the end
    read_back = parsed(message)
    assert [part["Content-Transfer-Encoding"] for part in read_back.iter_parts()] == [
        "base64",
        "base64",
    ]
    text, html = bodies(read_back)
    assert "--=_kafka-restaurants_alternative_= Café" in text
    assert "--=_kafka-restaurants_alternative_= Café" in html
