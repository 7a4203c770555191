"""How many restarts something that keeps dying gets: a budget per sliding time window.

Shared by the supervisor of `restaurants up` (processes) and the api (its background workers).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RestartBudget:
    """At most `limit` restarts of one process within any `window` seconds.

    A process that crashes now and then over a long life is restarted every time; one that
    keeps crashing in quick succession is in a crash loop, and restarting it is pointless.
    """

    limit: int = 5
    window: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _restarts: deque[float] = field(default_factory=deque)

    def recent(self) -> int:
        """Restarts counted within the window that ends now."""
        now = self.clock()
        while self._restarts and now - self._restarts[0] >= self.window:
            self._restarts.popleft()
        return len(self._restarts)

    def spend(self) -> bool:
        """Count one restart now; False (counting nothing) when the window holds `limit`."""
        if self.recent() >= self.limit:
            return False
        self._restarts.append(self.clock())
        return True
