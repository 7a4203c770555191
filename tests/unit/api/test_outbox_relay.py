"""The outbox relay's loop survives a failed cleanup of published rows."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from kafka_restaurants.api.outbox import OutboxRelay
from tests.fixtures.components import wait_for


class CleanupFails(OutboxRelay):
    """A relay with nothing to publish whose cleanup finds the database away."""

    def __init__(self) -> None:
        nothing: Any = None
        super().__init__(nothing, nothing, idle_seconds=0.01)
        self.rounds = 0
        self.cleanup_tried = threading.Event()

    def relay_once(self) -> tuple[int, int]:
        self.rounds += 1
        return 0, 0

    def delete_published_before(self, cutoff: datetime) -> None:
        self.cleanup_tried.set()
        raise ConnectionError("database unreachable")


def test_a_failed_cleanup_does_not_end_the_relay() -> None:
    relay = CleanupFails()
    relay.start()
    try:
        wait_for(relay.cleanup_tried.is_set, what="the first cleanup")
        rounds = relay.rounds
        wait_for(lambda: relay.rounds > rounds + 2, timeout=10, what="more relay rounds")
    finally:
        relay.stop()
