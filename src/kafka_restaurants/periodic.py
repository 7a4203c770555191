"""Doing one thing every few seconds on a daemon thread, until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls `action` every `every_seconds` (first at once, or first after one interval)."""

    def __init__(
        self,
        name: str,
        action: Callable[[], None],
        every_seconds: float,
        first_at_once: bool = True,
    ) -> None:
        self.name = name
        self._action = action
        self._every = every_seconds
        self._first_at_once = first_at_once
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end and wait (up to 10 s) for the action it may be running."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        if self._first_at_once:
            self._act()
        while not self._stopping.wait(self._every):
            self._act()

    def _act(self) -> None:
        try:
            self._action()
        except Exception:  # one failed round must not end the thread
            log.exception("%s: periodic action failed", self.name)
