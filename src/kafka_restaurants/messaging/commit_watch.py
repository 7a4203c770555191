"""Noticing Kafka commits that never come back, so a stuck consumer exits instead of idling.

librdkafka can block past its own timeouts, or keep failing in the background, when the broker
it cached as coordinator comes back as a new incarnation (seen with a single broker killed and
restarted). Three kinds of commit are watched: a blocking one in the loop (a transaction, the
flush before storing offsets), the final one of close(), and the background commit of stored
offsets, which must succeed within `commit_interval + stall_seconds` of the first offsets it
has not yet carried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from confluent_kafka import KafkaError, TopicPartition

log = logging.getLogger(__name__)


class CommitWatch:
    """Deadlines for a consumer's commits, and a thread that calls `on_stall` past one."""

    def __init__(
        self,
        group_id: str,
        stall_seconds: float,
        commit_interval: float,
        on_stall: Callable[[str], None],
    ) -> None:
        self.group_id = group_id
        self.stall_seconds = stall_seconds
        self.commit_interval = commit_interval
        self.on_stall = on_stall
        self._deadline: float | None = None
        # Since when stored offsets wait for a background commit to succeed.
        self._stored_since: float | None = None
        self._watching = False

    @contextmanager
    def blocking(self) -> Iterator[None]:
        """Watch a commit the calling thread waits for."""
        self._deadline = time.monotonic() + self.stall_seconds
        try:
            yield
        finally:
            self._deadline = None

    def stored(self) -> None:
        """Offsets were stored for the background commit."""
        if self._stored_since is None:
            self._stored_since = time.monotonic()

    def revoked(self) -> None:
        """Partitions were taken away: librdkafka has committed (or dropped) their stored
        offsets, and a failed commit of theirs is never tried again, so stop waiting for it.
        Offsets stored later for the partitions kept start the wait again."""
        self._stored_since = None

    def on_commit(self, error: KafkaError | None, _partitions: list[TopicPartition]) -> None:
        """librdkafka's answer to a background commit (served by consume(), on its thread)."""
        if error is None or error.code() == KafkaError._NO_OFFSET:
            self._stored_since = None
        else:  # the stored offsets stay; the next interval tries again
            log.warning("background offset commit failed: %s", error)

    def stall(self, now: float) -> str | None:
        """Why the consumer counts as stuck at `now`, or None."""
        if self._deadline is not None and now > self._deadline:
            return (
                f"a Kafka commit for group {self.group_id} has not returned in "
                f"{self.stall_seconds:.0f}s"
            )
        since = self._stored_since
        if since is not None and now - since > self.commit_interval + self.stall_seconds:
            return (
                f"offsets stored by group {self.group_id} have not been committed in "
                f"{now - since:.0f}s"
            )
        return None

    def start(self) -> None:
        self._watching = True
        threading.Thread(target=self._watch, name="commit-watchdog", daemon=True).start()

    def stop(self) -> None:
        self._watching = False

    def _watch(self) -> None:
        while self._watching:
            reason = self.stall(time.monotonic())
            if reason is not None:
                self.on_stall(reason)
                return
            time.sleep(0.5)
