"""Reading raw RFC 5322 bytes: a cheap pass for the inbox listing, a full one for one message.

`email.policy.default` parses every header it is asked for into a tree of tokens (and builds a
new header class per call): about 3 ms for an ordinary confirmation email, most of the
mailbox's CPU. The listing needs only a few headers and the body text, so `read_summary`
parses with `compat32` (no header trees) and reads simple values with regexes, falling back
to `policy.default` for exactly the values and MIME shapes it does not recognise. The result
is the same as the full parse (tests/unit/mailbox/test_mime.py compares both on many shapes);
`read_details` keeps the full parse for the fields only a single message's view shows.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.policy import compat32
from email.policy import default as default_policy
from html.parser import HTMLParser
from typing import Any

# Elements whose text never shows in a rendered page, so it stays out of the derived text.
_INVISIBLE_TAGS = frozenset({"head", "script", "style", "template", "title"})
_BLOCK_TAGS = frozenset(
    {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section"}
)
ADDRESS_HEADERS = ("From", "To", "Cc", "Bcc", "Reply-To")


@dataclass(frozen=True, slots=True)
class MailAddress:
    """A display name and an address, as Mailpit's `{"Name", "Address"}`."""

    name: str
    address: str

    def to_json(self) -> dict[str, str]:
        """The Mailpit JSON form."""
        return {"Name": self.name, "Address": self.address}

    def searchable(self) -> str:
        """Name and address in one lower-case string, for substring search."""
        return f"{self.name} <{self.address}>".lower()


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """What the inbox tells about an attachment; its bytes stay in the raw message."""

    part_id: str
    file_name: str
    content_type: str
    content_id: str
    size: int

    def to_json(self) -> dict[str, Any]:
        """The Mailpit JSON form."""
        return {
            "PartID": self.part_id,
            "FileName": self.file_name,
            "ContentType": self.content_type,
            "ContentID": self.content_id,
            "Size": self.size,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """What the listing and search need: a few headers, the body text, the attachment count."""

    addresses: dict[str, list[MailAddress]]  # by ADDRESS_HEADERS name
    subject: str
    message_id: str
    text: str
    attachment_count: int


@dataclass(frozen=True, slots=True)
class Details:
    """What only a single message's view needs, from the full parse."""

    html: str
    attachments: list[AttachmentInfo]
    headers: dict[str, list[str]]
    date: datetime | None  # the Date header when valid and timezone-aware
    return_path: str  # the Return-Path header, "" when absent


# --- visible text of HTML ------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    """Collects visible text from HTML; line breaks at block elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML document, one line per block, for snippets and search."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return "\n".join(line for line in lines if line)


def body_text(text: str, html: str) -> str:
    """The text part, or the visible text of the HTML part when there is no text part."""
    return html_to_text(html) if not text and html else text


# --- the full parse (policy.default) ---------------------------------------------------------


def _addresses_of(values: list[Any]) -> list[MailAddress]:
    """Addresses of parsed address headers; unparseable ones are kept as written."""
    found: list[MailAddress] = []
    for value in values:
        addresses: tuple[Address, ...] = getattr(value, "addresses", ())
        if addresses:
            found.extend(MailAddress(a.display_name, a.addr_spec) for a in addresses)
        elif str(value).strip():
            found.append(MailAddress("", str(value).strip()))
    return found


def _text_of(part: Message | None) -> str:
    """A simple text part decoded as the content manager would; bad bytes are replaced."""
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        content = payload.decode(str(part.get_param("charset", "ASCII")), "replace")
    except (LookupError, UnicodeError, ValueError):
        content = payload.decode("utf-8", "replace")
    # SMTP carries CRLF line endings; readers of Text and HTML expect plain newlines.
    return content.replace("\r\n", "\n")


def _full_text_of(part: EmailMessage | None) -> str:
    """`_text_of` through the content manager, as the full parse has always read parts."""
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = content if isinstance(content, str) else content.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


def _attachments(message: EmailMessage) -> list[AttachmentInfo]:
    """Attachments, numbered in walk order like a part ID."""
    if not message.is_multipart():
        return []
    found: list[AttachmentInfo] = []
    for number, part in enumerate(message.iter_attachments(), start=1):
        payload = part.get_payload(decode=True)
        found.append(
            AttachmentInfo(
                part_id=str(number),
                file_name=part.get_filename() or "",
                content_type=part.get_content_type(),
                content_id=str(part.get("Content-ID", "")).strip("<>"),
                size=len(payload) if isinstance(payload, bytes) else 0,
            )
        )
    return found


def _header_date(message: EmailMessage) -> datetime | None:
    value = message.get("Date")
    moment = getattr(value, "datetime", None)
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return moment
    return None


def _headers(message: EmailMessage) -> dict[str, list[str]]:
    """All headers as name -> values, names sorted (Mailpit's headers endpoint)."""
    headers: dict[str, list[str]] = {}
    for name, value in message.items():
        headers.setdefault(name, []).append(str(value))
    return dict(sorted(headers.items()))


def _parse_full(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(parsed, EmailMessage)  # guaranteed by policy.default
    return parsed


def _bodies(parsed: EmailMessage) -> tuple[str, str]:
    """(text, html) of a fully parsed message."""
    html = _full_text_of(parsed.get_body(preferencelist=("html",)))  # type: ignore[arg-type]
    text = _full_text_of(parsed.get_body(preferencelist=("plain",)))  # type: ignore[arg-type]
    return text, html


def read_details(raw: bytes) -> Details:
    """The full parse: bodies, attachments, every header, Date and Return-Path."""
    parsed = _parse_full(raw)
    html = _full_text_of(parsed.get_body(preferencelist=("html",)))  # type: ignore[arg-type]
    return Details(
        html=html,
        attachments=_attachments(parsed),
        headers=_headers(parsed),
        date=_header_date(parsed),
        return_path=str(parsed.get("Return-Path", "")),
    )


def read_summary_fully(raw: bytes) -> Summary:
    """`read_summary` the slow, obviously right way (policy.default on everything)."""
    parsed = _parse_full(raw)
    text, html = _bodies(parsed)
    return Summary(
        addresses={name: _addresses_of(parsed.get_all(name, [])) for name in ADDRESS_HEADERS},
        subject=" ".join(str(parsed.get("Subject", "")).split()),
        message_id=str(parsed.get("Message-ID", "")).strip().strip("<>"),
        text=body_text(text, html),
        attachment_count=len(_attachments(parsed)),
    )


# --- the cheap parse (compat32 + regexes, policy.default for anything unusual) -------------

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_ADDR_SPEC = rf"{_DOT_ATOM}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_NAME = rf"{_ATEXT}+(?: {_ATEXT}+)*"
# `Name <addr>`, `<addr>` or `addr`: no quotes, comments, groups, encoded words or folding.
_MAILBOX = re.compile(rf" *(?:({_NAME}) *<({_ADDR_SPEC})>|<({_ADDR_SPEC})>|({_ADDR_SPEC})) *")
_PLAIN_MESSAGE_ID = re.compile(rf" *<{_DOT_ATOM}@{_DOT_ATOM}> *")
_PRINTABLE = re.compile(r"[\t\r\n\x20-\x7e]*")
# Content types read without policy.default: (type, parameters); charset read separately.
_SIMPLE_CONTENT_TYPE = re.compile(
    r"(text/plain|text/html|multipart/alternative)(?:;[\t\r\n\x20-\x7e]*)?", re.IGNORECASE
)
_SIMPLE_CHARSET = re.compile(r"[A-Za-z0-9_.:+-]+")
_SIMPLE_ENCODINGS = frozenset({"", "7bit", "8bit", "binary", "base64", "quoted-printable"})


def _fast_addresses(value: str) -> list[MailAddress] | None:
    """Addresses of a plain header value, or None when it needs the real parser."""
    if "=?" in value:
        return None
    found = []
    for item in value.split(","):
        match = _MAILBOX.fullmatch(item)
        if match is None:
            return None
        name, named, bracketed, bare = match.groups()
        found.append(MailAddress(name or "", named or bracketed or bare))
    return found


def _addresses(headers: list[tuple[str, str]], name: str) -> list[MailAddress]:
    found: list[MailAddress] = []
    for header_name, value in headers:
        if header_name.lower() != name.lower():
            continue
        fast = _fast_addresses(value)
        if fast is None:
            fast = _addresses_of([default_policy.header_fetch_parse(header_name, value)])
        found.extend(fast)
    return found


def _first(headers: list[tuple[str, str]], name: str) -> tuple[str, str] | None:
    lowered = name.lower()
    return next(((n, v) for n, v in headers if n.lower() == lowered), None)


def _subject(headers: list[tuple[str, str]]) -> str:
    found = _first(headers, "Subject")
    if found is None:
        return ""
    name, value = found
    if "=?" in value or not _PRINTABLE.fullmatch(value):
        value = str(default_policy.header_fetch_parse(name, value))
    return " ".join(value.split())


def _message_id(headers: list[tuple[str, str]]) -> str:
    found = _first(headers, "Message-ID")
    if found is None:
        return ""
    name, value = found
    if not _PLAIN_MESSAGE_ID.fullmatch(value):
        value = str(default_policy.header_fetch_parse(name, value))
    return value.strip().strip("<>")


def _simple_leaf(part: Message) -> str | None:
    """`plain` or `html` for a text part read the same by compat32 as by policy.default."""
    if part.is_multipart() or part.get("Content-Disposition") is not None:
        return None
    content_type = part.get("Content-Type")
    if content_type is None:
        return "plain"  # the default type, outside multipart/digest
    if not isinstance(content_type, str):  # compat32 hands 8-bit values over as Header
        return None
    match = _SIMPLE_CONTENT_TYPE.fullmatch(content_type)
    if match is None or match.group(1).lower() == "multipart/alternative":
        return None
    charset = part.get_param("charset")
    if charset is not None and not (
        isinstance(charset, str) and _SIMPLE_CHARSET.fullmatch(charset)
    ):
        return None
    encoding = part.get("Content-Transfer-Encoding", "")
    if not isinstance(encoding, str) or encoding.strip().lower() not in _SIMPLE_ENCODINGS:
        return None
    return match.group(1).lower().partition("/")[2]


def _simple_body(message: Message) -> tuple[str, str] | None:
    """(text, html) of a single text part or a flat multipart/alternative; else None."""
    leaf = _simple_leaf(message)
    if leaf is not None:
        text = _text_of(message)
        return (text, "") if leaf == "plain" else ("", text)
    content_type = message.get("Content-Type")
    if (
        not message.is_multipart()
        or message.get("Content-Disposition") is not None
        or not isinstance(content_type, str)
        or not (match := _SIMPLE_CONTENT_TYPE.fullmatch(content_type))
        or match.group(1).lower() != "multipart/alternative"
    ):
        return None
    # get_body takes the first text/plain and the first text/html part of the alternative.
    first: dict[str, Message] = {}
    for part in message.get_payload():
        kind = _simple_leaf(part) if isinstance(part, Message) else None
        if kind is None or not isinstance(part, Message):
            return None
        first.setdefault(kind, part)
    return _text_of(first.get("plain")), _text_of(first.get("html"))


def read_summary(raw: bytes) -> Summary:
    """The listing's fields, as `read_summary_fully` gives them, at a fraction of its CPU."""
    parsed = email.message_from_bytes(raw, policy=compat32)
    bodies = _simple_body(parsed)
    headers = list(parsed.raw_items())
    if any(not isinstance(value, str) for _, value in headers):
        return read_summary_fully(raw)
    if bodies is None:
        full = _parse_full(raw)
        bodies = _bodies(full)
        attachment_count = len(_attachments(full))
    else:
        attachment_count = 0  # a text part or an alternative never has attachments
    text, html = bodies
    return Summary(
        addresses={name: _addresses(headers, name) for name in ADDRESS_HEADERS},
        subject=_subject(headers),
        message_id=_message_id(headers),
        text=body_text(text, html),
        attachment_count=attachment_count,
    )
