"""Per-client rate limit on order placement, and who the client is behind our own proxies.

Browsers never call the api: a web replica does, on their behalf, and says whose request it is
in X-Forwarded-For. The api believes that header only from TRUSTED_PROXIES (our load balancer
and web tier), so an outside caller cannot pick its own key. A trusted caller that names no
client is our own tooling (bench, chaos runs, scripts) calling for itself: admission control
still bounds it, but it is nobody's customer to rate-limit.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """Addresses and networks whose X-Forwarded-For is believed."""

    def __init__(self, spec: str) -> None:
        """`spec`: comma-separated addresses or CIDR networks, e.g. "127.0.0.1,10.0.0.0/8"."""
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in spec.split(",")
            if part.strip()
        )
        self._trusted = lru_cache(maxsize=4096)(self._contains)

    def trusts(self, address: str | None) -> bool:
        """True when `address` is an IP inside one of the networks."""
        return bool(address) and self._trusted(address)

    def _contains(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_key(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The client a request is for: the peer itself unless it is a trusted proxy, then the
        nearest untrusted address it forwards; None for a trusted peer forwarding nobody."""
        if not self.trusts(peer):
            return peer or "unknown"
        hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
        if not hops:
            return None
        # Each proxy appends the address it saw: walk back from the nearest one.
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop[:64]
        return hops[0][:64]  # the whole chain is ours: the farthest hop is the client


class ClientRateLimiter:
    """A token bucket per client: `burst` orders at once, then `rate_per_second` a second.

    Remembers the `max_clients` most recently seen clients; a forgotten one starts with a full
    bucket again, which only ever errs on the side of letting a customer order.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_second
        self.burst = max(1, burst)
        self.max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, client: str) -> int | None:
        """Spend one token of `client`'s; None if there was one, else milliseconds to wait."""
        if not self.enabled:
            return None
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            wait_ms = None if tokens >= 1 else math.ceil((1 - tokens) / self.rate * 1000)
            self._buckets[client] = (tokens - 1 if wait_ms is None else tokens, now)
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait_ms
