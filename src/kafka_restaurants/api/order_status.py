"""Keeping each order's status in step with what the payment service decided."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from prometheus_client import Counter, Histogram
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.api.tables import Order, OrderTimelineEntry
from kafka_restaurants.events import (
    ORDER_CONFIRM,
    ORDER_DECLINED,
    InvalidEvent,
    OrderConfirmed,
    OrderDeclined,
    decode,
)
from kafka_restaurants.messaging.outcomes import DeadLetter, Done, Incoming, Outcome, Retry

log = logging.getLogger(__name__)

ORDERS_SETTLED = Counter("orders_settled_total", "Orders that reached a final status", ["status"])
ORDER_SETTLE_SECONDS = Histogram(
    "order_settle_latency_seconds",
    "From an order being placed to the api recording its final status (end to end)",
    ["status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
for _status in ("confirmed", "declined", "failed"):  # present at 0 before the first order
    ORDERS_SETTLED.labels(_status)

GROUP_ID = "api-order-status"
TOPICS = (ORDER_CONFIRM, ORDER_DECLINED)
TERMINAL = {"confirmed", "declined", "failed"}

PaymentResult = OrderConfirmed | OrderDeclined


def apply_payment_result(session: Session, event: PaymentResult) -> str | None:
    """Move a pending order to its final status; returns the new status, or None if unchanged.

    Idempotent: a final status never changes again, so duplicates and replays are harmless.
    """
    order = session.scalar(select(Order).where(Order.id == event.order_id).with_for_update())
    if order is None:
        log.warning("payment result for unknown order %s", event.order_id)
        return None
    if order.status in TERMINAL:
        return None
    now = datetime.now(UTC)
    if isinstance(event, OrderConfirmed):
        order.status = "confirmed"
        session.add(OrderTimelineEntry(order_id=order.id, event="paid", at=event.occurred_at))
    else:
        order.status = "declined"
        order.decline_code = event.decline_code
        order.decline_reason = event.reason
        session.add(OrderTimelineEntry(order_id=order.id, event="declined", at=event.occurred_at))
    order.updated_at = now
    created = order.created_at if order.created_at.tzinfo else order.created_at.replace(tzinfo=UTC)
    ORDER_SETTLE_SECONDS.labels(order.status).observe((now - created).total_seconds())
    return order.status


def parse_payment_result(message: Incoming) -> PaymentResult:
    """The event on a payment-result topic; InvalidEvent when it is not one."""
    if message.topic == ORDER_CONFIRM:
        return decode(message.value, message.headers, OrderConfirmed)
    if message.topic == ORDER_DECLINED:
        return decode(message.value, message.headers, OrderDeclined)
    raise InvalidEvent(f"unexpected topic {message.topic}")


class OrderStatusHandler:
    """Applies a batch of payment results in one database transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    async def __call__(self, batch: list[Incoming]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        events: list[PaymentResult] = []
        for message in batch:
            try:
                events.append(parse_payment_result(message))
                outcomes.append(Done())
            except InvalidEvent as exc:
                outcomes.append(DeadLetter(str(exc)))
        if not events:
            return outcomes
        try:
            settled = await asyncio.to_thread(self._apply, events)
        except Exception as exc:  # database down or locked: keep the messages, try again
            log.warning("could not record payment results: %s", exc)
            return [Retry(f"database: {exc}") if isinstance(o, Done) else o for o in outcomes]
        for status in settled:
            ORDERS_SETTLED.labels(status).inc()
        return outcomes

    def _apply(self, events: list[PaymentResult]) -> list[str]:
        with self.sessions() as session, session.begin():
            return [s for s in (apply_payment_result(session, e) for e in events) if s]
