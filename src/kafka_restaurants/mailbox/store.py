"""The inbox: a bounded, thread-safe, in-memory list of received messages."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from kafka_restaurants.mailbox.messages import StoredMessage
from kafka_restaurants.mailbox.search import SearchTerm, matches

DEFAULT_MAX_MESSAGES = 10_000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Page:
    """A slice of messages, newest first, with the counts Mailpit reports beside it."""

    messages: list[StoredMessage]
    total: int  # messages in the inbox
    unread: int  # unread messages in the inbox
    matched: int  # messages matching the query (== total without a query)
    matched_unread: int
    start: int


class MessageStore:
    """Received messages, oldest evicted first once over `max_messages` or `max_bytes`."""

    def __init__(
        self, max_messages: int = DEFAULT_MAX_MESSAGES, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_messages < 1 or max_bytes < 1:
            raise ValueError("max_messages and max_bytes must be at least 1")
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        # Insertion order is arrival order: the last item is the newest.
        self._messages: OrderedDict[str, StoredMessage] = OrderedDict()
        self._bytes = 0
        # The SMTP server and the HTTP app may run on different threads.
        self._lock = threading.Lock()

    def add(self, message: StoredMessage) -> None:
        """Store a message, evicting the oldest ones beyond the bounds."""
        with self._lock:
            self._messages[message.id] = message
            self._bytes += message.size
            while len(self._messages) > 1 and (
                len(self._messages) > self._max_messages or self._bytes > self._max_bytes
            ):
                _, evicted = self._messages.popitem(last=False)
                self._bytes -= evicted.size

    def get(self, message_id: str, *, mark_read: bool = False) -> StoredMessage | None:
        """The message with this database ID (or `latest`), optionally marking it read."""
        with self._lock:
            if message_id == "latest":
                message = next(reversed(self._messages.values()), None)
            else:
                message = self._messages.get(message_id)
            if message is not None and mark_read:
                message.read = True
            return message

    def page(self, start: int = 0, limit: int = 50, terms: list[SearchTerm] | None = None) -> Page:
        """Messages newest first, from `start`, at most `limit`, matching every term if given."""
        with self._lock:
            everything = list(reversed(self._messages.values()))
        unread = sum(1 for m in everything if not m.read)
        selected = everything if terms is None else [m for m in everything if matches(m, terms)]
        return Page(
            messages=selected[start : start + limit],
            total=len(everything),
            unread=unread,
            matched=len(selected),
            matched_unread=sum(1 for m in selected if not m.read),
            start=start,
        )

    def delete(self, message_ids: Iterable[str] | None = None) -> int:
        """Delete the given messages, or all of them when no IDs are given; returns how many."""
        with self._lock:
            if message_ids is None:
                count = len(self._messages)
                self._messages.clear()
                self._bytes = 0
                return count
            count = 0
            for message_id in message_ids:
                removed = self._messages.pop(message_id, None)
                if removed is not None:
                    self._bytes -= removed.size
                    count += 1
            return count

    def delete_matching(self, terms: list[SearchTerm]) -> int:
        """Delete every message matching all the terms; returns how many."""
        with self._lock:
            doomed = [m.id for m in self._messages.values() if matches(m, terms)]
        return self.delete(doomed)

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)
