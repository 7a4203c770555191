"""Is the Kafka cluster answering? Used by readiness checks."""

from __future__ import annotations

import time
from collections.abc import Mapping

from confluent_kafka.admin import AdminClient

from kafka_restaurants.messaging.security import with_security


class ClusterProbe:
    """Answers whether the cluster serves metadata, remembering the answer for a few seconds."""

    def __init__(
        self,
        bootstrap_servers: str,
        cache_seconds: float = 2.0,
        security: Mapping[str, str] | None = None,
    ) -> None:
        self._admin: AdminClient | None = None
        self._bootstrap = bootstrap_servers
        self._security = security
        self._cache_seconds = cache_seconds
        self._last: tuple[float, bool] = (0.0, False)

    def reachable(self, timeout: float = 2.0) -> bool:
        checked_at, answer = self._last
        if time.monotonic() - checked_at < self._cache_seconds:
            return answer
        if self._admin is None:
            self._admin = AdminClient(
                with_security(
                    {
                        "bootstrap.servers": self._bootstrap,
                        "socket.connection.setup.timeout.ms": 2000,
                        # "Connection refused" is the answer we report, not a log line.
                        "log_level": 0,
                    },
                    self._security,
                )
            )
        try:
            self._admin.list_topics(timeout=timeout)
            answer = True
        except Exception:
            answer = False
        self._last = (time.monotonic(), answer)
        return answer
