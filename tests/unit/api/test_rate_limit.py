"""Per-client order limits and who the client is behind our proxies: no I/O."""

from __future__ import annotations

import pytest

from kafka_restaurants.api.rate_limit import ClientRateLimiter, TrustedProxies

PROXIES = TrustedProxies("127.0.0.1, ::1, 10.0.0.0/8")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # A caller we don't trust is the client, whatever it claims to forward.
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
        ("testclient", "198.51.100.1", "testclient"),
        (None, None, "unknown"),
        # A web replica forwarding the browser's address.
        ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("10.1.2.3", "2001:db8::1", "2001:db8::1"),
        # A browser claiming an address before our proxy appended the real one: the nearest
        # untrusted hop wins, so the claim is ignored.
        ("127.0.0.1", "192.0.2.66, 198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", "198.51.100.1, 10.0.0.5", "198.51.100.1"),
        # A chain of only our own addresses: the farthest is the client (e.g. someone on the LAN).
        ("127.0.0.1", "10.0.0.7, 10.0.0.5", "10.0.0.7"),
        # Our own tooling calling for itself: nobody to rate-limit.
        ("127.0.0.1", None, None),
        ("::1", " , ", None),
    ],
)
def test_client_key(peer: str | None, forwarded_for: str | None, client: str | None) -> None:
    assert PROXIES.client_key(peer, forwarded_for) == client


def test_a_bad_trusted_proxies_setting_fails_at_once() -> None:
    with pytest.raises(ValueError, match="not-an-ip"):
        TrustedProxies("127.0.0.1,not-an-ip")


def test_nothing_is_trusted_when_the_setting_is_empty() -> None:
    assert TrustedProxies("").client_key("127.0.0.1", "198.51.100.1") == "127.0.0.1"


def test_a_client_gets_its_burst_then_one_order_per_refill() -> None:
    clock = Clock()
    limiter = ClientRateLimiter(rate_per_second=0.5, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [None, None, None]
    assert limiter.take("a") == 2000  # one token comes back every 2 s
    clock.now += 0.5
    assert limiter.take("a") == 1500
    clock.now += 1.5
    assert limiter.take("a") is None
    assert limiter.take("a") == 2000


def test_clients_do_not_share_a_bucket() -> None:
    limiter = ClientRateLimiter(rate_per_second=1, burst=1, clock=Clock())
    assert limiter.take("a") is None
    assert limiter.take("a") is not None
    assert limiter.take("b") is None


def test_the_bucket_never_holds_more_than_the_burst() -> None:
    clock = Clock()
    limiter = ClientRateLimiter(rate_per_second=1, burst=2, clock=clock)
    limiter.take("a")
    clock.now += 3600
    assert [limiter.take("a") is None for _ in range(3)] == [True, True, False]


def test_the_least_recently_seen_client_is_forgotten_first() -> None:
    limiter = ClientRateLimiter(rate_per_second=0.001, burst=1, max_clients=2, clock=Clock())
    for client in ("a", "b"):
        assert limiter.take(client) is None
    assert limiter.take("a") is not None  # "a" is now the most recently seen
    assert limiter.take("c") is None  # forgets "b"
    assert limiter.take("a") is not None
    assert limiter.take("b") is None  # a forgotten client starts with a full bucket


def test_a_zero_rate_turns_the_limit_off() -> None:
    limiter = ClientRateLimiter(rate_per_second=0, burst=1, clock=Clock())
    assert not limiter.enabled
    assert all(limiter.take("a") is None for _ in range(100))
