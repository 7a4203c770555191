"""A received message as the inbox keeps it, and its Mailpit-shaped JSON views.

A message is kept as its raw bytes plus the few fields the listing and search need (read
cheaply on arrival, see mime.py). The HTML part, attachments, all headers and the Date are
parsed from the raw bytes only when one message is looked at, and kept for the last few
messages looked at (a browser or a test usually fetches the same message more than once).
"""

from __future__ import annotations

import secrets
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka_restaurants.mailbox.mime import (
    AttachmentInfo,
    Details,
    MailAddress,
    html_to_text,
    read_details,
    read_summary,
)

__all__ = [
    "SNIPPET_LENGTH",
    "AttachmentInfo",
    "MailAddress",
    "StoredMessage",
    "detail_json",
    "html_to_text",
    "make_snippet",
    "new_message_id",
    "parse_message",
    "rfc3339",
    "summary_json",
]

SNIPPET_LENGTH = 250  # Mailpit's snippet length
DETAILS_CACHED = 32  # fully parsed messages kept (LRU)
DETAILS_CACHED_BYTES = 16 * 1024 * 1024  # raw bytes of the messages they come from, at most

# What one stored message costs besides its raw bytes, text and subject, measured with
# tracemalloc for a confirmation email (the object, its ID, dates, lists and strings), and
# per address (a MailAddress and its two strings). tests/unit/mailbox/test_store.py checks
# that the estimate is not below what Python really allocates.
RECORD_OVERHEAD_BYTES = 900
ADDRESS_OVERHEAD_BYTES = 200


@dataclass(eq=False, slots=True)
class StoredMessage:
    """One received message: raw bytes, the fields the listing shows, the rest parsed lazily.

    Change `read` through `MessageStore.get(..., mark_read=True)`: the store counts unread
    messages as they change rather than on every listing.
    """

    id: str
    message_id: str
    sender: MailAddress | None
    to: list[MailAddress]
    cc: list[MailAddress]
    bcc: list[MailAddress]
    reply_to: list[MailAddress]
    subject: str
    created: datetime
    text: str
    size: int
    raw: bytes
    attachment_count: int = 0
    envelope_from: str = ""
    username: str = ""
    read: bool = False

    @property
    def details(self) -> Details:
        """The fully parsed message (cached for the last few messages asked for)."""
        return _DETAILS.get(self)

    @property
    def html(self) -> str:
        """The HTML part, CRLFs turned into newlines; "" without one."""
        return self.details.html

    @property
    def attachments(self) -> list[AttachmentInfo]:
        """Attachments, numbered like part IDs."""
        return self.details.attachments

    @property
    def headers(self) -> dict[str, list[str]]:
        """All headers as name -> values, names sorted."""
        return self.details.headers

    @property
    def date(self) -> datetime:
        """The Date header when valid and timezone-aware, else the time received."""
        return self.details.date or self.created

    @property
    def return_path(self) -> str:
        """The Return-Path header, else the envelope sender."""
        return (self.details.return_path or self.envelope_from).strip().strip("<>")

    @property
    def people(self) -> list[MailAddress]:
        """Sender and every recipient."""
        sender = [self.sender] if self.sender else []
        return sender + self.to + self.cc + self.bcc + self.reply_to

    @property
    def search_text(self) -> str:
        """Everything plain-text search looks in, lower-cased: subject, addresses, body text."""
        # Built per search rather than kept: searching is rare, memory is per message.
        parts = [self.subject, *(p.searchable() for p in self.people), self.text]
        return " ".join(" ".join(parts).split()).lower()

    @property
    def snippet(self) -> str:
        """Up to 250 characters of the text, whitespace collapsed, as Mailpit's Snippet."""
        return make_snippet(self.text)

    @property
    def footprint(self) -> int:
        """Bytes of memory this message holds, estimated: what the store's byte bound counts."""
        addresses = len(self.to) + len(self.cc) + len(self.bcc) + len(self.reply_to) + 1
        return (
            sys.getsizeof(self.raw)
            + sys.getsizeof(self.text)
            + sys.getsizeof(self.subject)
            + sys.getsizeof(self.message_id)
            + RECORD_OVERHEAD_BYTES
            + ADDRESS_OVERHEAD_BYTES * addresses
        )


class _DetailsCache:
    """The last few fully parsed messages, so that a message viewed twice is parsed once."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        # Keyed by object identity; the entry keeps its message alive, so ids stay unique.
        self._entries: OrderedDict[int, tuple[StoredMessage, Details]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, message: StoredMessage) -> Details:
        key = id(message)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry[1]
        details = read_details(message.raw)  # outside the lock: parsing takes milliseconds
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (message, details)
                self._bytes += message.size
            while len(self._entries) > 1 and (
                len(self._entries) > self._max_entries or self._bytes > self._max_bytes
            ):
                _, (evicted, _) = self._entries.popitem(last=False)
                self._bytes -= evicted.size
        return details

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


_DETAILS = _DetailsCache(DETAILS_CACHED, DETAILS_CACHED_BYTES)


def new_message_id() -> str:
    """A random, URL-safe database ID (Mailpit uses short random IDs too)."""
    return secrets.token_urlsafe(16)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 with milliseconds, UTC shown as `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_snippet(text: str) -> str:
    """Collapse whitespace and cut to SNIPPET_LENGTH characters."""
    # Only the start of a long text can reach the snippet: don't split all of it.
    head = text[: SNIPPET_LENGTH * 8]
    collapsed = " ".join(head.split())
    if len(collapsed) <= SNIPPET_LENGTH and len(text) > len(head):
        collapsed = " ".join(text.split())  # mostly whitespace: look further
    if len(collapsed) <= SNIPPET_LENGTH:
        return collapsed
    return collapsed[: SNIPPET_LENGTH - 1].rstrip() + "…"


def parse_message(
    raw: bytes,
    *,
    envelope_from: str = "",
    envelope_to: list[str] | None = None,
    received_at: datetime | None = None,
    message_db_id: str | None = None,
    username: str = "",
) -> StoredMessage:
    """Read raw message bytes (as received over SMTP) into a StoredMessage; never raises."""
    created = received_at or datetime.now(UTC)
    summary = read_summary(raw)
    addresses = summary.addresses
    senders = addresses["From"]
    if senders:
        sender: MailAddress | None = senders[0]
    else:
        sender = MailAddress("", envelope_from) if envelope_from else None
    to, cc = addresses["To"], addresses["Cc"]
    # Envelope recipients not named in To or Cc were Bcc'd, as Mailpit reports them.
    named = {a.address.lower() for a in (*to, *cc)}
    bcc = addresses["Bcc"] + [
        MailAddress("", rcpt) for rcpt in envelope_to or [] if rcpt.lower() not in named
    ]
    return StoredMessage(
        id=message_db_id or new_message_id(),
        message_id=summary.message_id,
        sender=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=addresses["Reply-To"],
        subject=summary.subject,
        created=created,
        text=summary.text,
        size=len(raw),
        raw=raw,
        attachment_count=summary.attachment_count,
        envelope_from=envelope_from,
        username=username,
    )


def _address_list(addresses: list[MailAddress]) -> list[dict[str, str]]:
    return [a.to_json() for a in addresses]


def summary_json(message: StoredMessage) -> dict[str, Any]:
    """Mailpit's MessageSummary for one message (no full parse needed)."""
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
        "Attachments": message.attachment_count,
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
