"""Turn raw RFC 5322 bytes into a stored message and its Mailpit-shaped JSON views."""

from __future__ import annotations

import email
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from functools import cached_property
from html.parser import HTMLParser
from typing import Any

SNIPPET_LENGTH = 250  # Mailpit's snippet length

# Elements whose text never shows in a rendered page, so it stays out of the derived text.
_INVISIBLE_TAGS = frozenset({"head", "script", "style", "template", "title"})
_BLOCK_TAGS = frozenset(
    {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section"}
)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass
class StoredMessage:
    """One received message: parsed fields plus the raw bytes it came from."""

    id: str
    message_id: str
    sender: MailAddress | None
    to: list[MailAddress]
    cc: list[MailAddress]
    bcc: list[MailAddress]
    reply_to: list[MailAddress]
    return_path: str
    subject: str
    created: datetime
    date: datetime
    text: str
    html: str
    size: int
    raw: bytes
    headers: dict[str, list[str]]
    attachments: list[AttachmentInfo] = field(default_factory=list)
    username: str = ""
    read: bool = False

    @cached_property
    def search_text(self) -> str:
        """Everything plain-text search looks in, lower-cased: subject, addresses, body text."""
        people = [self.sender] if self.sender else []
        people += self.to + self.cc + self.bcc + self.reply_to
        parts = [self.subject, *(p.searchable() for p in people), self.text]
        return " ".join(" ".join(parts).split()).lower()

    @property
    def snippet(self) -> str:
        """Up to 250 characters of the text, whitespace collapsed, as Mailpit's Snippet."""
        return make_snippet(self.text)


def new_message_id() -> str:
    """A random, URL-safe database ID (Mailpit uses short random IDs too)."""
    return secrets.token_urlsafe(16)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 with milliseconds, UTC shown as `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_snippet(text: str) -> str:
    """Collapse whitespace and cut to SNIPPET_LENGTH characters."""
    collapsed = " ".join(text.split())
    if len(collapsed) <= SNIPPET_LENGTH:
        return collapsed
    return collapsed[: SNIPPET_LENGTH - 1].rstrip() + "…"


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


def _addresses(message: EmailMessage, header: str) -> list[MailAddress]:
    """Every address in the named header(s); unparseable ones are kept as written."""
    found: list[MailAddress] = []
    for value in message.get_all(header, []):
        addresses: tuple[Address, ...] = getattr(value, "addresses", ())
        if addresses:
            found.extend(MailAddress(a.display_name, a.addr_spec) for a in addresses)
        elif str(value).strip():
            found.append(MailAddress("", str(value).strip()))
    return found


def _text_of(part: EmailMessage | None) -> str:
    """The decoded text content of a part; undecodable bytes are replaced, never fatal."""
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = content if isinstance(content, str) else content.decode("utf-8", "replace")
    # SMTP carries CRLF line endings; readers of Text and HTML expect plain newlines.
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


def _header_date(message: EmailMessage, fallback: datetime) -> datetime:
    """The Date header when it is valid and timezone-aware, else the time received."""
    value = message.get("Date")
    moment = getattr(value, "datetime", None)
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return moment
    return fallback


def _headers(message: EmailMessage) -> dict[str, list[str]]:
    """All headers as name -> values, names sorted (Mailpit's headers endpoint)."""
    headers: dict[str, list[str]] = {}
    for name, value in message.items():
        headers.setdefault(name, []).append(str(value))
    return dict(sorted(headers.items()))


def parse_message(
    raw: bytes,
    *,
    envelope_from: str = "",
    envelope_to: list[str] | None = None,
    received_at: datetime | None = None,
    message_db_id: str | None = None,
    username: str = "",
) -> StoredMessage:
    """Parse raw message bytes (as received over SMTP) into a StoredMessage; never raises."""
    created = received_at or datetime.now(UTC)
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(parsed, EmailMessage)  # guaranteed by policy.default

    senders = _addresses(parsed, "From")
    if senders:
        sender: MailAddress | None = senders[0]
    else:
        sender = MailAddress("", envelope_from) if envelope_from else None
    to = _addresses(parsed, "To")
    cc = _addresses(parsed, "Cc")
    # Envelope recipients not named in To or Cc were Bcc'd, as Mailpit reports them.
    named = {a.address.lower() for a in (*to, *cc)}
    bcc = _addresses(parsed, "Bcc") + [
        MailAddress("", rcpt) for rcpt in envelope_to or [] if rcpt.lower() not in named
    ]

    html = _text_of(parsed.get_body(preferencelist=("html",)))  # type: ignore[arg-type]
    text = _text_of(parsed.get_body(preferencelist=("plain",)))  # type: ignore[arg-type]
    if not text and html:
        text = html_to_text(html)

    return StoredMessage(
        id=message_db_id or new_message_id(),
        message_id=str(parsed.get("Message-ID", "")).strip().strip("<>"),
        sender=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=_addresses(parsed, "Reply-To"),
        return_path=str(parsed.get("Return-Path", "") or envelope_from).strip().strip("<>"),
        subject=" ".join(str(parsed.get("Subject", "")).split()),
        created=created,
        date=_header_date(parsed, created),
        text=text,
        html=html,
        size=len(raw),
        raw=raw,
        headers=_headers(parsed),
        attachments=_attachments(parsed),
        username=username,
    )


def _address_list(addresses: list[MailAddress]) -> list[dict[str, str]]:
    return [a.to_json() for a in addresses]


def summary_json(message: StoredMessage) -> dict[str, Any]:
    """Mailpit's MessageSummary for one message."""
    return {
        "ID": message.id,
        "MessageID": message.message_id,
        "Read": message.read,
        "From": message.sender.to_json() if message.sender else None,
        "To": _address_list(message.to),
        "Cc": _address_list(message.cc),
        "Bcc": _address_list(message.bcc),
        "ReplyTo": _address_list(message.reply_to),
        "Subject": message.subject,
        "Created": rfc3339(message.created),
        "Username": message.username,
        "Tags": [],
        "Size": message.size,
        "Attachments": len(message.attachments),
        "Snippet": message.snippet,
    }


def detail_json(message: StoredMessage) -> dict[str, Any]:
    """Mailpit's Message for one message: the summary fields plus Date, Text, HTML and parts."""
    detail = summary_json(message)
    detail.update(
        {
            "ReturnPath": message.return_path,
            "Date": rfc3339(message.date),
            "Text": message.text,
            "HTML": message.html,
            "Inline": [],
            "Attachments": [a.to_json() for a in message.attachments],
        }
    )
    return detail
