"""What a handler decides about each message; the consumer loop carries the decision out.

Kept free of Kafka client types so handlers are plain, testable functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Retry:
    """A transient failure: keep the message and try it again after a backoff.

    On the message's final attempt the loop dead-letters it instead (the retry limit).
    """

    reason: str


@dataclass(frozen=True)
class DeadLetter:
    """The message cannot be handled: park it in the dead-letter topic and move on.

    `outputs` are produced with it (in the same transaction when the loop is transactional),
    for a handler that gives up on a message but still owes the world a result.
    """

    reason: str
    outputs: tuple[Outgoing, ...] = ()


Outcome = Done | Retry | DeadLetter
