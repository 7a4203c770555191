"""Admission control for order placement: take an order only when it can be answered soon.

Under overload a queue makes every customer wait (a browser spun 38 s at 3x the sustainable
rate); refusing at once with "busy, retry in N s" keeps the orders we do take fast, and
nothing is written for a refused one.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from prometheus_client import Counter, Gauge
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from kafka_restaurants.api.tables import OUTBOX
from kafka_restaurants.periodic import Periodic

log = logging.getLogger(__name__)

# The outbox drains at Kafka's pace, not at a request's: a client refused for the backlog
# should stay away longer than one refused for a momentary burst of requests.
BACKLOG_RETRY_FACTOR = 5

RefusalReason = Literal[
    "in_flight", "outbox_backlog", "rate_limited", "payment_unavailable", "database_unavailable"
]

ORDERS_IN_FLIGHT = Gauge("api_orders_in_flight", "POST /orders being worked on by this process")
ORDERS_REFUSED = Counter(
    "api_orders_refused_total", "POST /orders refused with nothing written, by reason", ["reason"]
)


@dataclass(frozen=True)
class AdmissionLimits:
    """When the api stops taking orders; 0 turns a limit off."""

    max_in_flight: int
    max_outbox_backlog: int
    retry_after_ms: int


@dataclass(frozen=True)
class Refusal:
    """Why an order was not taken and when the client should try again."""

    reason: RefusalReason
    retry_after_ms: int

    @property
    def retry_after_header(self) -> str:
        """Retry-After in whole seconds (what HTTP allows), rounded up and at least 1."""
        return str(max(1, math.ceil(self.retry_after_ms / 1000)))


# The bank could not tokenize the card: it is usually back within seconds.
PAYMENT_UNAVAILABLE = Refusal("payment_unavailable", 5000)
# The database did not answer (down, restarting, or a SQLite file locked): the transaction
# rolled back, so nothing was written; a database restart takes seconds.
DATABASE_UNAVAILABLE = Refusal("database_unavailable", 5000)

BUSY_MESSAGES: dict[RefusalReason, str] = {
    "rate_limited": "You are placing orders too fast; try again in a few seconds.",
    "in_flight": "We're very busy; try again in a few seconds.",
    "outbox_backlog": "We're very busy; try again in a few seconds.",
    "payment_unavailable": "The payment service is unavailable; please try again shortly.",
    "database_unavailable": "We can't take orders for a moment; please try again shortly.",
}


class OrderRefused(BaseModel):
    """Nothing was written: try again after `retry_after_ms` (also Retry-After, in seconds)."""

    detail: str
    reason: RefusalReason
    retry_after_ms: int


def refused_response(status_code: int, refusal: Refusal) -> JSONResponse:
    """The answer to an order refused with nothing written: when to retry, in body and header."""
    body = OrderRefused(
        detail=BUSY_MESSAGES[refusal.reason],
        reason=refusal.reason,
        retry_after_ms=refusal.retry_after_ms,
    )
    return JSONResponse(
        body.model_dump(),
        status_code=status_code,
        headers={"Retry-After": refusal.retry_after_header},
    )


def admit(in_flight: int, outbox_backlog: int | None, limits: AdmissionLimits) -> Refusal | None:
    """None when one more order may start now; otherwise why not and when to come back.

    `outbox_backlog` is None while it is not known yet, which refuses nothing.
    """
    if limits.max_in_flight and in_flight >= limits.max_in_flight:
        return Refusal("in_flight", limits.retry_after_ms)
    if (
        limits.max_outbox_backlog
        and outbox_backlog is not None
        and outbox_backlog >= limits.max_outbox_backlog
    ):
        return Refusal("outbox_backlog", limits.retry_after_ms * BACKLOG_RETRY_FACTOR)
    return None


class OrderGate:
    """Counts the orders this process is placing and refuses new ones over the limits."""

    def __init__(self, limits: AdmissionLimits, outbox_backlog: Callable[[], int | None]) -> None:
        self.limits = limits
        self._outbox_backlog = outbox_backlog
        self._lock = threading.Lock()
        self.in_flight = 0

    def enter(self) -> Refusal | None:
        """Count one more order in, or say why it must not start (then nothing is counted)."""
        with self._lock:
            refusal = admit(self.in_flight, self._outbox_backlog(), self.limits)
            if refusal is None:
                self.in_flight += 1
                ORDERS_IN_FLIGHT.inc()
        if refusal is not None:
            ORDERS_REFUSED.labels(refusal.reason).inc()
        return refusal

    def leave(self) -> None:
        """An order that entered is answered."""
        with self._lock:
            self.in_flight -= 1
            ORDERS_IN_FLIGHT.dec()


def count_unpublished(sessions: sessionmaker[Session]) -> int:
    """Outbox rows committed but not yet acknowledged by Kafka (an indexed count)."""
    with sessions() as session:
        query = select(func.count()).select_from(OUTBOX).where(OUTBOX.c.published_at.is_(None))
        return int(session.scalar(query) or 0)


class BacklogSampler:
    """The outbox backlog as last counted, refreshed in the background every `every_seconds`.

    A count per request would cost more than the order itself; a second-old figure is fresh
    enough to notice a backlog that builds over minutes.
    """

    def __init__(self, count: Callable[[], int], every_seconds: float = 1.0) -> None:
        self._count = count
        self._value: int | None = None
        self._periodic = Periodic("outbox-backlog", self.refresh, every_seconds)

    def value(self) -> int | None:
        """The last count; None before the first one."""
        return self._value

    def refresh(self) -> None:
        """Count now; on failure keep the last figure (placing orders will fail loudly anyway)."""
        try:
            self._value = self._count()
        except Exception as exc:
            log.debug("counting the outbox backlog failed: %s", type(exc).__name__)

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()


class OrderAdmission:
    """ASGI middleware deciding whether a POST /orders may start, before anything else is done.

    At three times the sustainable rate two requests in three are refused; deciding in the
    route cost each of them a body read, a pydantic validation and the routing, on the same
    event loop the accepted orders wait for. Here a refusal costs a header lookup, and an
    order counts as in flight from its first byte to its answer.
    """

    def __init__(self, app: ASGIApp, path: str = "/orders") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        peer = scope["client"][0] if scope.get("client") else None
        client = state.trusted_proxies.client_key(peer, Headers(scope=scope).get("x-forwarded-for"))
        wait_ms = state.order_rate.take(client) if client is not None else None
        if wait_ms is not None:
            ORDERS_REFUSED.labels("rate_limited").inc()
            await refused_response(429, Refusal("rate_limited", wait_ms))(scope, receive, send)
            return
        gate: OrderGate = state.order_gate
        refusal = gate.enter()
        if refusal is not None:
            await refused_response(503, refusal)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            gate.leave()
