"""by_topic: one handler for a service reading several topics, outcomes back in batch order."""

from __future__ import annotations

import asyncio

from kafka_restaurants.messaging.consumer import Handler
from kafka_restaurants.messaging.outcomes import Cause, DeadLetter, Done, Incoming, Outcome, Retry
from kafka_restaurants.messaging.service import by_topic


def message(topic: str, offset: int) -> Incoming:
    return Incoming(topic, 0, offset, b"k", b"v")


def test_each_topic_goes_to_its_handler_first_one_first_and_outcomes_keep_batch_order() -> None:
    calls: list[tuple[str, list[int]]] = []

    def answering(name: str, outcome: Outcome) -> Handler:
        async def handle(batch: list[Incoming]) -> list[Outcome]:
            calls.append((name, [m.offset for m in batch]))
            return [outcome] * len(batch)

        return handle

    handler = by_topic(
        answering("results", Done()),
        {"steps": answering("steps", Retry("wait", Cause.WAITING))},
    )
    batch = [message("steps", 0), message("confirm", 1), message("steps", 2), message("x", 3)]
    outcomes = asyncio.run(handler(batch))
    assert calls == [("results", [1, 3]), ("steps", [0, 2])]
    assert outcomes == [Retry("wait", Cause.WAITING), Done(), Retry("wait", Cause.WAITING), Done()]


def test_a_part_with_no_messages_is_not_called() -> None:
    called: list[str] = []

    async def steps(batch: list[Incoming]) -> list[Outcome]:
        called.append("steps")
        return [DeadLetter("never")] * len(batch)

    async def first(batch: list[Incoming]) -> list[Outcome]:
        return [Done()] * len(batch)

    outcomes = asyncio.run(by_topic(first, {"steps": steps})([message("confirm", 0)]))
    assert outcomes == [Done()] and called == []
