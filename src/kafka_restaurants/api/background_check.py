"""A slow check (is Kafka reachable?) answered from its last result, refreshed in the background.

Asking the cluster for metadata takes the whole timeout when Kafka is down; a probe handler
that waited for it would answer slowly exactly during an outage, and a probe that times out
fails as surely as one that answers 503.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class BackgroundCheck:
    """The latest answer of `check` (None before the first), never waiting for a new one."""

    def __init__(
        self,
        check: Callable[[], bool],
        name: str,
        max_age: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._name = name
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._answer: bool | None = None
        self._checked_at: float | None = None
        self._refreshing = False

    def answer(self) -> bool | None:
        """The last answer; starts a refresh when it is older than `max_age`."""
        with self._lock:
            stale = self._checked_at is None or self._clock() - self._checked_at >= self._max_age
            if stale and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name=self._name, daemon=True).start()
            return self._answer

    def _refresh(self) -> None:
        try:
            answer = bool(self._check())
        except Exception:
            answer = False
        with self._lock:
            self._answer = answer
            self._checked_at = self._clock()
            self._refreshing = False
