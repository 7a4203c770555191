"""What a handler decides about each message; the consumer loop carries the decision out.

Kept free of Kafka client types so handlers are plain, testable functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kafka_restaurants.events import InvalidEvent
from kafka_restaurants.events.models import Event


@dataclass(frozen=True)
class Incoming:
    """One consumed message, as handlers see it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    # Which delivery of this message this is (1 = first), and whether the loop will give up
    # on it if the handler answers Retry again: a handler can settle it some other way.
    attempt: int = 1
    final_attempt: bool = False

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name and value is not None:
                return value.decode("utf-8", errors="replace")
        return None


@dataclass(frozen=True)
class Outgoing:
    """An event to produce to `topic` as part of handling a message."""

    topic: str
    event: Event


@dataclass(frozen=True)
class Done:
    """Handled: produce `outputs` (maybe none) and move past the message."""

    outputs: tuple[Outgoing, ...] = ()


class Cause(StrEnum):
    """Why a message is retried or dead-lettered, from a small fixed set: the `reason` label of
    the retry and dead-letter metrics. The free-text reason beside it says the rest."""

    BANK_UNREACHABLE = "bank_unreachable"
    BANK_ERROR = "bank_error"
    SMTP = "smtp"
    DATABASE = "database"
    WAITING = "waiting"  # another event must come first (a payment result, a confirmation)
    INVALID_EVENT = "invalid_event"
    UNSUPPORTED_VERSION = "unsupported_version"
    KEY_MISMATCH = "key_mismatch"
    UNKNOWN_ORDER = "unknown_order"
    NOT_APPLICABLE = "not_applicable"  # a valid event that can never apply to its order
    RENDER_FAILED = "render_failed"
    GAVE_UP = "gave_up"  # no answer after the last attempt: left for reconciliation
    OTHER = "other"


@dataclass(frozen=True)
class Retry:
    """A transient failure: keep the message and try it again after a backoff.

    On the message's final attempt the loop dead-letters it instead (the retry limit).
    """

    reason: str
    cause: Cause = Cause.OTHER


@dataclass(frozen=True)
class DeadLetter:
    """The message cannot be handled: park it in the dead-letter topic and move on.

    `outputs` are produced with it (in the same transaction when the loop is transactional),
    for a handler that gives up on a message but still owes the world a result.
    """

    reason: str
    outputs: tuple[Outgoing, ...] = ()
    cause: Cause = Cause.OTHER


def invalid(error: InvalidEvent) -> DeadLetter:
    """The dead letter of a message that is not a valid event, with the codec's own cause."""
    return DeadLetter(str(error), cause=Cause(error.cause))


Outcome = Done | Retry | DeadLetter


def database_down(outcomes: list[Outcome], error: Exception) -> list[Outcome]:
    """`outcomes` with every Done turned into a Retry: the batch's writes could not be made
    (the database is down or locked), so those messages are kept for another try."""
    retry = Retry(f"database: {error}", Cause.DATABASE)
    return [retry if isinstance(outcome, Done) else outcome for outcome in outcomes]
