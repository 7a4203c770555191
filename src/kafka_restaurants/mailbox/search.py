"""Mailpit-style search queries: `to:addr subject:word "exact phrase" -excluded is:unread`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from kafka_restaurants.mailbox.messages import MailAddress, StoredMessage

# A token is a run of non-space characters in which quoted parts may contain spaces.
_TOKEN = re.compile(r'(?:[^\s"]+|"[^"]*"?)+')

# Prefixes that look in one field; every other token searches the whole text.
FIELDS = ("to", "from", "cc", "bcc", "reply-to", "addressed", "subject", "message-id")
# Whole-token filters on a message's state, with their spelling variants.
FLAGS = {
    "is:read": "is:read",
    "is:unread": "is:unread",
    "has:attachment": "has:attachment",
    "has:attachments": "has:attachment",
}


class SearchQueryError(ValueError):
    """A query that cannot be searched for; the message says why."""


@dataclass(frozen=True)
class SearchTerm:
    """One condition: `field` is a prefix from FIELDS, a flag from FLAGS, or None for text."""

    field: str | None
    value: str
    exclude: bool = False


def split_query(query: str) -> list[str]:
    """Split on spaces, keeping quoted phrases together and dropping the quotes."""
    return [token.replace('"', "") for token in _TOKEN.findall(query)]


def parse_query(query: str) -> list[SearchTerm]:
    """Parse a Mailpit search query into terms that must all hold; raises SearchQueryError."""
    terms: list[SearchTerm] = []
    for token in split_query(query):
        exclude = len(token) > 1 and token[0] in "-!"
        word = token[1:] if exclude else token
        lowered = word.lower()
        if lowered in FLAGS:
            terms.append(SearchTerm(FLAGS[lowered], "", exclude))
            continue
        prefix, colon, rest = word.partition(":")
        if colon and prefix.lower() in FIELDS:
            if rest.strip():
                terms.append(SearchTerm(prefix.lower(), rest.strip().lower(), exclude))
            continue
        if word.strip():
            terms.append(SearchTerm(None, word.strip().lower(), exclude))
    if not terms:
        raise SearchQueryError("query: must contain at least one search term")
    return terms


def _in_addresses(addresses: list[MailAddress], value: str) -> bool:
    return any(value in a.searchable() for a in addresses)


_FIELD_TESTS: dict[str, Callable[[StoredMessage, str], bool]] = {
    "to": lambda m, v: _in_addresses(m.to, v),
    "from": lambda m, v: _in_addresses([m.sender] if m.sender else [], v),
    "cc": lambda m, v: _in_addresses(m.cc, v),
    "bcc": lambda m, v: _in_addresses(m.bcc, v),
    "reply-to": lambda m, v: _in_addresses(m.reply_to, v),
    "addressed": lambda m, v: _in_addresses(m.people, v),
    "subject": lambda m, v: v in m.subject.lower(),
    "message-id": lambda m, v: v in m.message_id.lower(),
    "is:read": lambda m, _: m.read,
    "is:unread": lambda m, _: not m.read,
    "has:attachment": lambda m, _: m.attachment_count > 0,
}


def term_matches(message: StoredMessage, term: SearchTerm) -> bool:
    """Whether one term holds for the message (after applying its exclusion)."""
    if term.field is None:
        found = term.value in message.search_text
    else:
        found = _FIELD_TESTS[term.field](message, term.value)
    return found != term.exclude


def matches(message: StoredMessage, terms: list[SearchTerm]) -> bool:
    """Whether every term holds for the message."""
    return all(term_matches(message, term) for term in terms)
