"""The inbox: a bounded, thread-safe, in-memory list of received messages."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

from kafka_restaurants.mailbox.messages import StoredMessage
from kafka_restaurants.mailbox.search import SearchTerm, matches

DEFAULT_MAX_MESSAGES = 10_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # of StoredMessage.footprint: raw bytes + what we keep


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
    """Received messages, oldest evicted first once over `max_messages` or `max_bytes`.

    `max_bytes` bounds the memory the messages hold (their `footprint`), not only their size.
    Listing the newest messages costs O(start + limit), whatever the inbox holds: pollers ask
    for the first page many times a second.
    """

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
        self._unread = 0
        # The SMTP server and the HTTP app may run on different threads.
        self._lock = threading.Lock()

    def add(self, message: StoredMessage) -> None:
        """Store a message, evicting the oldest ones beyond the bounds."""
        with self._lock:
            self._forget(message.id)  # the same ID again replaces the message
            self._messages[message.id] = message
            self._bytes += message.footprint
            self._unread += not message.read
            while len(self._messages) > 1 and (
                len(self._messages) > self._max_messages or self._bytes > self._max_bytes
            ):
                _, evicted = self._messages.popitem(last=False)
                self._uncount(evicted)

    def _uncount(self, message: StoredMessage) -> None:
        self._bytes -= message.footprint
        self._unread -= not message.read

    def _forget(self, message_id: str) -> bool:
        removed = self._messages.pop(message_id, None)
        if removed is None:
            return False
        self._uncount(removed)
        return True

    def get(self, message_id: str, *, mark_read: bool = False) -> StoredMessage | None:
        """The message with this database ID (or `latest`), optionally marking it read."""
        with self._lock:
            if message_id == "latest":
                message = next(reversed(self._messages.values()), None)
            else:
                message = self._messages.get(message_id)
            if message is not None and mark_read and not message.read:
                message.read = True
                self._unread -= 1
            return message

    @property
    def bytes_used(self) -> int:
        """The summed footprint of the stored messages."""
        with self._lock:
            return self._bytes

    def page(self, start: int = 0, limit: int = 50, terms: list[SearchTerm] | None = None) -> Page:
        """Messages newest first, from `start`, at most `limit`, matching every term if given."""
        with self._lock:
            newest_first = reversed(self._messages.values())
            total, unread = len(self._messages), self._unread
            if terms is None:
                return Page(
                    messages=list(islice(newest_first, start, start + limit)),
                    total=total,
                    unread=unread,
                    matched=total,
                    matched_unread=unread,
                    start=start,
                )
            everything = list(newest_first)
        # Searching looks at every message, outside the lock so that SMTP is not held up.
        selected = [m for m in everything if matches(m, terms)]
        return Page(
            messages=selected[start : start + limit],
            total=total,
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
                self._unread = 0
                return count
            return sum(self._forget(message_id) for message_id in message_ids)

    def delete_matching(self, terms: list[SearchTerm]) -> int:
        """Delete every message matching all the terms; returns how many."""
        with self._lock:
            doomed = [m.id for m in self._messages.values() if matches(m, terms)]
        return self.delete(doomed)

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)
