"""The progress display: which phase of how many, and how far into the current one."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class PhaseProgress:
    """Two bars: phases done out of the plan, and the current phase against its expected time."""

    def __init__(self, console: Console, phases: int) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.overall: TaskID = self.progress.add_task("benchmark phases", total=phases)
        self.current: TaskID = self.progress.add_task("", total=1)
        self._began = time.monotonic()
        self._expected = 1.0

    def __enter__(self) -> PhaseProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def phase(self, description: str) -> None:
        """A new phase of the plan begins."""
        self.progress.advance(self.overall)
        self.progress.update(self.overall, description=f"benchmark: {description}")
        if not self.progress.console.is_terminal:  # no live bars in CI logs: print the plan
            self.progress.console.log(f"phase: {description}")

    def step(self, description: str, seconds: float) -> None:
        """A timed step inside the phase begins; the second bar fills over `seconds`."""
        self._began, self._expected = time.monotonic(), max(1.0, seconds)
        self.progress.update(
            self.current, description=f"  {description}", completed=0, total=self._expected
        )
        if not self.progress.console.is_terminal:
            self.progress.console.log(f"  {description}")

    def tick(self) -> None:
        """Move the step bar to the time elapsed (called from a ticker)."""
        elapsed = min(self._expected, time.monotonic() - self._began)
        self.progress.update(self.current, completed=elapsed)

    def log(self, message: str) -> None:
        self.progress.console.log(message)
