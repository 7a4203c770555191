"""The cheap parse gives exactly what the full policy.default parse gives, on many shapes."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from kafka_restaurants.mailbox import mime
from kafka_restaurants.mailbox.mime import (
    MailAddress,
    read_details,
    read_summary,
    read_summary_fully,
)
from kafka_restaurants.mailer.rendering import build_confirmation
from tests.unit.mailbox.samples import build_message
from tests.unit.mailer.samples import confirmed

FROM = "Kafka Restaurants <orders@kafka-restaurants.local>"


def _confirmation(**kwargs: str) -> bytes:
    return build_confirmation(confirmed(**kwargs), FROM, "http://localhost:8088").as_bytes()


def _raw(headers: str, body: str = "hello\r\n") -> bytes:
    return (headers.replace("\n", "\r\n") + "\r\n" + body).encode("utf-8", "surrogateescape")


def _related_with_image() -> bytes:
    message = EmailMessage()
    message["To"] = "ann@example.com"
    message["Subject"] = "related"
    message.set_content("text part")
    message.add_alternative("<p>html <img src='cid:logo'></p>", subtype="html")
    html_part = message.get_payload()[1]
    html_part.add_related(b"\x89PNG fake", "image", "png", cid="<logo>")
    return message.as_bytes()


def _inline_disposition() -> bytes:
    message = EmailMessage()
    message["To"] = "ann@example.com"
    message.set_content("inline text", disposition="inline")
    return message.as_bytes()


def _multipart_mixed_without_attachment() -> bytes:
    message = EmailMessage()
    message["To"] = "ann@example.com"
    message.set_content("first")
    message.add_attachment("second text", disposition="inline")
    return message.as_bytes()


SHAPES: dict[str, bytes] = {
    "confirmation": _confirmation(),
    "confirmation unicode name": _confirmation(name="Zoë Café"),
    "confirmation international address": _confirmation(email="zoë@example.com"),
    "alternative with cc": build_message(cc="Chef <chef@example.com>, sous@example.com"),
    "text only": build_message(html=None),
    "html only": build_message(text=None, html="<p>Order <b>42</b></p><script>x</script>"),
    "attachment": build_message(attachment=b"%PDF-1.4 fake"),
    "encoded subject and names": build_message(
        subject="Commande confirmée 🍕 für Zoë", sender="Café Zoë <cafe@example.com>"
    ),
    "crlf": build_message().replace(b"\n", b"\r\n"),
    "related": _related_with_image(),
    "inline disposition": _inline_disposition(),
    "mixed without attachment": _multipart_mixed_without_attachment(),
    "bare": b"To: ann@example.com\r\nSubject: bare\r\n\r\nbody\r\n",
    "garbage": b"\xff\xfe not a header\r\n\x00\x01\x02\r\n\r\n\xc3\x28 broken utf-8",
    "empty": b"",
    "undecodable charset": _raw(
        "From: a@example.com\nTo: b@example.com\nSubject: x\n"
        "Content-Type: text/plain; charset=no-such-charset\n",
        "hello \udcff\r\n",
    ),
    "8-bit headers": "To: Zoë <zoe@example.com>\r\nSubject: Crème brûlée\r\n\r\nbody".encode(),
    "quoted names and comments": _raw(
        'From: "Doe, John" <john@example.com>\nTo: ann@example.com (Ann),'
        ' "Bob B." <bob@example.com>\nReply-To: Team: a@example.com, b@example.com;\n'
    ),
    "folded headers": _raw(
        "To: Ann Example <ann@example.com>,\n Bob <bob@example.com>\n"
        "Subject: a subject\n  folded over\n\tlines\nMessage-ID:\n <folded@example.com>\n"
    ),
    "names with dots and odd spacing": _raw(
        "From: J. R. Smith <jr@example.com>\nTo: Ann   Example<ann@example.com>,<b@example.com>\n"
        "Cc: ,\nBcc: not an address\n"
    ),
    "repeated headers": _raw(
        "To: a@example.com\nTo: b@example.com\nSubject: first\nSubject: second\n"
        "Message-ID: <one@example.com>\nMessage-ID: <two@example.com>\n"
    ),
    "odd message ids": _raw("Message-ID: no-brackets@example.com (comment)\n"),
    "quoted-printable and latin-1": _raw(
        "To: a@example.com\nContent-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable\n",
        "caf=E9 cr=E8me\r\n",
    ),
    "rfc2231 charset": _raw(
        "To: a@example.com\nContent-Type: text/plain; charset*=utf-8''utf-8\n", "hi\r\n"
    ),
    "unknown transfer encoding": _raw(
        "To: a@example.com\nContent-Transfer-Encoding: x-uuencode\n", "hi\r\n"
    ),
    "multipart without boundary": _raw("To: a@example.com\nContent-Type: multipart/alternative\n"),
    "text/calendar": _raw("To: a@example.com\nContent-Type: text/calendar\n", "BEGIN\r\n"),
    "attachment disposition on a text body": _raw(
        "To: a@example.com\nContent-Disposition: attachment; filename=a.txt\n", "file\r\n"
    ),
}


@pytest.mark.parametrize("raw", SHAPES.values(), ids=SHAPES.keys())
def test_cheap_summary_equals_full_parse(raw: bytes) -> None:
    assert read_summary(raw) == read_summary_fully(raw)


@pytest.mark.parametrize(
    "shape", ["confirmation", "alternative with cc", "text only", "html only", "bare"]
)
def test_common_shapes_never_run_the_full_parse(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("the full parse ran")

    class NoHeaderParsing:
        header_fetch_parse = staticmethod(refuse)

    expected = read_summary_fully(SHAPES[shape])
    monkeypatch.setattr(mime, "_parse_full", refuse)
    monkeypatch.setattr(mime, "default_policy", NoHeaderParsing())
    assert read_summary(SHAPES[shape]) == expected


@pytest.mark.parametrize(
    "value",
    [
        "ann@example.com",
        "<ann@example.com>",
        "Ann <ann@example.com>",
        "Bench Customer 12 <c12@bench.example.com>",
        "Ann Example <ann@example.com>, bob@example.com ,  <c@example.com>",
        "O'Brien <ob@example.com>",
        "a.b-c+d@x-y.example.com",
        "first.last@example.com",
        "Ann Example<ann@example.com>",
    ],
)
def test_fast_addresses_agree_with_the_header_registry(value: str) -> None:
    fast = mime._fast_addresses(value)
    assert fast is not None, "a plain address list should not need the full parser"
    full = mime._addresses_of([default_policy.header_factory("To", value)])
    assert fast == full


@pytest.mark.parametrize(
    "value",
    ['"Doe, John" <j@example.com>', "=?utf-8?q?Zo=C3=AB?= <z@example.com>", "g: a@b.com;", ""],
)
def test_fast_addresses_leave_unusual_values_to_the_full_parser(value: str) -> None:
    assert mime._fast_addresses(value) is None


def test_summary_of_a_confirmation() -> None:
    summary = read_summary(_confirmation(name="Bench Customer 7", email="c7@bench.example.com"))
    assert summary.addresses["From"] == [
        MailAddress("Kafka Restaurants", "orders@kafka-restaurants.local")
    ]
    assert summary.addresses["To"] == [MailAddress("Bench Customer 7", "c7@bench.example.com")]
    assert summary.subject.startswith("Your order from Falafel Haifa is confirmed")
    assert summary.message_id.startswith("order-0f8fad5b")
    assert "Lemonade" in summary.text
    assert summary.attachment_count == 0


def test_details_hold_html_attachments_headers_and_date() -> None:
    details = read_details(build_message(attachment=b"%PDF-1.4 fake"))
    assert "<b>Ann</b>" in details.html
    assert [a.file_name for a in details.attachments] == ["receipt.pdf"]
    assert details.headers["Subject"] == ["Your order is confirmed"]
    assert details.date is not None and details.date.utcoffset() is not None
    assert details.return_path == ""
