"""Turning events into Kafka message parts and back, without touching a Kafka client."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError

from kafka_restaurants.events.models import EVENT_TYPES, UNSUPPORTED_MAJOR_VERSION, Event
from kafka_restaurants.observability.tracing import TRACEPARENT
from kafka_restaurants.validation import describe_validation_error

E = TypeVar("E", bound=Event)

HEADER_EVENT_TYPE = "event_type"
HEADER_SCHEMA_VERSION = "schema_version"

_SCHEMA_VERSION = re.compile(r"(\d{1,6})(?:\.(\d{1,6}))?")


class InvalidEvent(ValueError):
    """A message that is not a valid event of the type expected; it belongs in the DLQ.

    `cause` sorts it for the dead-letter metric: `invalid_event`, `unsupported_version` (a
    major schema version this consumer does not read) or `key_mismatch`.
    """

    def __init__(self, message: str, cause: str = "invalid_event") -> None:
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True)
class EncodedEvent:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def encode(event: Event, traceparent: str | None = None) -> EncodedEvent:
    """Key, JSON value and headers for `event`."""
    headers = [
        (HEADER_EVENT_TYPE, event.event_type.encode()),
        (HEADER_SCHEMA_VERSION, event.schema_version_text().encode()),
    ]
    if traceparent:
        headers.append((TRACEPARENT, traceparent.encode()))
    return EncodedEvent(
        key=event.order_id.encode(), value=event.model_dump_json().encode("utf-8"), headers=headers
    )


def header_value(headers: list[tuple[str, bytes | None]] | None, name: str) -> str | None:
    """The first header called `name`, decoded, or None."""
    for key, value in headers or []:
        if key == name and value is not None:
            return value.decode("utf-8", errors="replace")
    return None


def parse_schema_version(text: str) -> tuple[int, int]:
    """(major, minor) of a schema_version header: `MAJOR.MINOR`, or `MAJOR` alone as producers
    wrote it before minor versions existed (minor 0)."""
    match = _SCHEMA_VERSION.fullmatch(text.strip())
    if match is None:
        raise InvalidEvent("not a valid schema_version header (expected MAJOR.MINOR)")
    return int(match[1]), int(match[2] or 0)


def _unsupported(expected: type[Event], version: str) -> InvalidEvent:
    return InvalidEvent(
        f"unsupported schema version {version} of {expected.event_type}: "
        f"this consumer reads {expected.schema_major()}.x",
        cause="unsupported_version",
    )


def decode(
    value: bytes | None, headers: list[tuple[str, bytes | None]] | None, expected: type[E]
) -> E:
    """Parse and validate a message value as `expected`, or raise InvalidEvent saying why.

    Any minor version of the expected major is read (unknown fields are ignored); another
    major version is refused. The reason names fields and error types, never their values.
    """
    if value is None:
        raise InvalidEvent("message has no value")
    event_type = header_value(headers, HEADER_EVENT_TYPE)
    if event_type is not None and event_type != expected.event_type:
        known = ", ".join(sorted(EVENT_TYPES))
        raise InvalidEvent(
            f"event_type header is {event_type!r}, expected {expected.event_type!r} ({known})"
        )
    version = header_value(headers, HEADER_SCHEMA_VERSION)
    if version is not None:
        major, minor = parse_schema_version(version)
        if major != expected.schema_major():
            raise _unsupported(expected, f"{major}.{minor}")
    try:
        return expected.model_validate_json(value)
    except ValidationError as exc:
        for problem in exc.errors(include_url=False, include_input=False):
            if problem["type"] == UNSUPPORTED_MAJOR_VERSION:
                body_major = problem.get("ctx", {}).get("version")
                raise _unsupported(expected, str(body_major)) from None
        # `from None`: the ValidationError quotes the values (emails, addresses), and a
        # chained cause would print them in any traceback of this error.
        raise InvalidEvent(
            f"not a valid {expected.event_type}: {describe_validation_error(exc)}"
        ) from None


def decode_on_topic(
    topic: str,
    value: bytes | None,
    headers: list[tuple[str, bytes | None]] | None,
    kinds: Mapping[str, type[E]],
) -> E:
    """Decode a message of a consumer that reads several topics: as the event `kinds` names for
    its topic. InvalidEvent for a topic not in `kinds`, or a value that is not that event."""
    expected = kinds.get(topic)
    if expected is None:
        raise InvalidEvent(f"unexpected topic {topic}")
    return decode(value, headers, expected)
