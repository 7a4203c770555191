"""Capped exponential backoff with jitter, so retries neither busy-loop nor march in step."""

from __future__ import annotations

import random


def backoff_seconds(
    attempt: int, base: float = 0.2, cap: float = 30.0, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number `attempt` (0-based): full range in [d/2, d]."""
    delay = min(cap, base * 2.0 ** min(attempt, 32))
    jitter: float = (rng or random).random()
    return delay * (0.5 + 0.5 * jitter)
