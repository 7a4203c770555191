"""Keeping each order's status in step with what the payment service decided."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter, Histogram
from sqlalchemy import Connection, bindparam, insert, literal_column, select, update
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.api.order_steps import record_steps
from kafka_restaurants.api.tables import ORDER_TIMELINE, ORDERS
from kafka_restaurants.db import engine_of
from kafka_restaurants.events import (
    FINAL_STATUSES,
    ORDER_CONFIRM,
    ORDER_DECLINED,
    ORDER_STATUS,
    PAYMENT_FAILED,
    InvalidEvent,
    OrderConfirmed,
    OrderDeclined,
    OrderStatus,
    decode_on_topic,
)
from kafka_restaurants.messaging.consumer import ConsumerSettings, Handler
from kafka_restaurants.messaging.outcomes import (
    Cause,
    DeadLetter,
    Done,
    Incoming,
    Outcome,
    database_down,
    invalid,
)
from kafka_restaurants.messaging.security import client_security
from kafka_restaurants.messaging.service import ConsumerService, by_topic
from kafka_restaurants.settings import Settings

log = logging.getLogger(__name__)

ORDERS_SETTLED = Counter("orders_settled_total", "Orders that reached a final status", ["status"])
ORDER_SETTLE_SECONDS = Histogram(
    "order_settle_latency_seconds",
    "From an order being placed to the api recording its final status (end to end)",
    ["status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
for _status in FINAL_STATUSES:  # present at 0 before the first order
    ORDERS_SETTLED.labels(_status)

GROUP_ID = "api-order-status"
# Payment results, and the kitchen's steps on confirmed orders (api.order_steps).
TOPICS = (ORDER_CONFIRM, ORDER_DECLINED, ORDER_STATUS)

PaymentResult = OrderConfirmed | OrderDeclined
_PAYMENT_RESULTS: dict[str, type[PaymentResult]] = {
    ORDER_CONFIRM: OrderConfirmed,
    ORDER_DECLINED: OrderDeclined,
}


class UnknownOrder(LookupError):
    """A payment result names an order this api never took."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"unknown order {order_id}: the api has no order with this id")
        self.order_id = order_id


@dataclass(frozen=True)
class PaymentResultsApplied:
    """What a batch of payment results did: the new statuses, one per order that changed, and
    the orders nobody here knows (their results belong in the dead-letter topic)."""

    statuses: list[str]
    unknown_orders: frozenset[str] = frozenset()


_CURRENT = (
    select(ORDERS.c.id, ORDERS.c.status, ORDERS.c.created_at)
    .where(ORDERS.c.id.in_(bindparam("ids", expanding=True)))
    .with_for_update()
)
# The status guard repeats the check made on the locked rows: a final status never changes.
_SETTLE = (
    update(ORDERS)
    .where(
        ORDERS.c.id == bindparam("b_id"),
        # Spelled out: an expanding IN parameter cannot be used with executemany.
        *(ORDERS.c.status != literal_column(f"'{status}'") for status in sorted(FINAL_STATUSES)),
    )
    .values(
        status=bindparam("b_status"),
        decline_code=bindparam("b_decline_code"),
        decline_reason=bindparam("b_decline_reason"),
        updated_at=bindparam("b_updated_at"),
    )
)
_ADD_TO_TIMELINE = insert(ORDER_TIMELINE)


def settle(
    current: dict[str, str], event: PaymentResult, now: datetime
) -> tuple[dict[str, object], dict[str, object]] | None:
    """The order update and timeline row `event` calls for, or None when it changes nothing.

    `current` maps order ids to their status and is updated, so a duplicate later in the same
    batch changes nothing either. Raises UnknownOrder when `current` lacks the order: the api
    writes an order before its event can exist, so such a result cannot be applied, ever.
    """
    status = current.get(event.order_id)
    if status is None:
        raise UnknownOrder(event.order_id)
    if status in FINAL_STATUSES:
        return None
    if isinstance(event, OrderConfirmed):
        new, entry, code, reason = OrderStatus.CONFIRMED, "paid", None, None
    elif event.decline_code == PAYMENT_FAILED:
        # The bank refused the request itself, not the card: our failure, not the customer's.
        new, entry, code, reason = OrderStatus.FAILED, "failed", event.decline_code, event.reason
    else:
        new, entry, code, reason = (
            OrderStatus.DECLINED,
            "declined",
            event.decline_code,
            event.reason,
        )
    current[event.order_id] = new
    change: dict[str, object] = {
        "b_id": event.order_id,
        "b_status": new,
        "b_decline_code": code,
        "b_decline_reason": reason,
        "b_updated_at": now,
    }
    return change, {"order_id": event.order_id, "event": entry, "at": event.occurred_at}


def apply_payment_results(
    connection: Connection, events: list[PaymentResult]
) -> PaymentResultsApplied:
    """Move pending orders to their final status; says what changed and what is unknown.

    Idempotent: a final status never changes again, so duplicates and replays are harmless.
    One query reads (and on PostgreSQL locks) the batch's orders, one statement updates them
    and one adds their timeline entries.
    """
    if not events:
        return PaymentResultsApplied([])
    ids = sorted({event.order_id for event in events})
    found = connection.execute(_CURRENT, {"ids": ids}).all()
    current = {row.id: row.status for row in found}
    created = {row.id: row.created_at for row in found}
    now = datetime.now(UTC)
    changes: list[dict[str, object]] = []
    entries: list[dict[str, object]] = []
    unknown: set[str] = set()
    for event in events:
        try:
            settled = settle(current, event, now)
        except UnknownOrder:
            unknown.add(event.order_id)
            continue
        if settled is not None:
            changes.append(settled[0])
            entries.append(settled[1])
    if not changes:
        return PaymentResultsApplied([], frozenset(unknown))
    connection.execute(_SETTLE, changes)
    connection.execute(_ADD_TO_TIMELINE, entries)
    statuses: list[str] = []
    for change in changes:
        status = str(change["b_status"])
        placed = created[str(change["b_id"])]
        placed = placed if placed.tzinfo else placed.replace(tzinfo=UTC)
        ORDER_SETTLE_SECONDS.labels(status).observe((now - placed).total_seconds())
        statuses.append(status)
    return PaymentResultsApplied(statuses, frozenset(unknown))


def parse_payment_result(message: Incoming) -> PaymentResult:
    """The event on a payment-result topic; InvalidEvent when it is not one."""
    return decode_on_topic(message.topic, message.value, message.headers, _PAYMENT_RESULTS)


class PaymentResultsHandler:
    """Applies a batch of payment results in one database transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.engine = engine_of(sessions)

    async def __call__(self, batch: list[Incoming]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        events: list[tuple[int, PaymentResult]] = []
        for index, message in enumerate(batch):
            try:
                events.append((index, parse_payment_result(message)))
                outcomes.append(Done())
            except InvalidEvent as exc:
                outcomes.append(invalid(exc))
        if not events:
            return outcomes
        try:
            applied = await asyncio.to_thread(self._apply, [event for _, event in events])
        except Exception as exc:  # database down or locked: keep the messages, try again
            log.warning("could not record payment results: %s", exc)
            return database_down(outcomes, exc)
        for status in applied.statuses:
            ORDERS_SETTLED.labels(status).inc()
        for index, event in events:
            if event.order_id in applied.unknown_orders:
                outcomes[index] = DeadLetter(
                    str(UnknownOrder(event.order_id)), cause=Cause.UNKNOWN_ORDER
                )
        return outcomes

    def _apply(self, events: list[PaymentResult]) -> PaymentResultsApplied:
        with self.engine.begin() as connection:
            return apply_payment_results(connection, events)


def order_status_handler(sessions: sessionmaker[Session]) -> Handler:
    """Payment results first, then the kitchen's steps (a step waits for its order's payment
    result, maybe in the same batch), each kind in one database transaction."""

    async def steps(batch: list[Incoming]) -> list[Outcome]:
        return await record_steps(sessions, batch)

    return by_topic(PaymentResultsHandler(sessions), {ORDER_STATUS: steps})


def order_status_service(settings: Settings, sessions: sessionmaker[Session]) -> ConsumerService:
    """The api's follower of payment results, on the api's own database sessions."""

    @asynccontextmanager
    async def open_handler() -> AsyncIterator[Handler]:
        yield order_status_handler(sessions)

    consumer = ConsumerSettings(
        settings.bootstrap_servers,
        group_id=GROUP_ID,
        topics=TOPICS,
        max_attempts=settings.max_delivery_attempts,
        security=client_security(settings),
    )
    return ConsumerService("order_status", consumer, open_handler)
