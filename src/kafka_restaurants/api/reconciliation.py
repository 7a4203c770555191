"""Settling orders the payment pipeline left pending: ask the bank by reference, then decide.

An order stays pending when its `order` message was dead-lettered without a result (the bank
could not say whether it charged) or lost some other way. Past `older_than` seconds, and only
once its OrderPlaced has been published at least that long ago, the reconciler asks the bank
for the order's charges (the reference is the order id) and settles it: confirmed when the bank
charged it (with an OrderConfirmed through the outbox, so the mailer sends its email), declined
when the bank declined it, failed with nothing charged otherwise. Every update is conditional
on the order still being pending, so a result arriving meanwhile wins and reruns change nothing.
The threshold must exceed the payment service's retry window (MAX_DELIVERY_ATTEMPTS with its
backoff) plus consumer lag: a "no charge" answer is final only when no charge is still coming.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Connection, and_, exists, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.api.bank_client import ChargeLookup
from kafka_restaurants.api.order_status import ORDERS_SETTLED
from kafka_restaurants.api.outbox import outbox_row
from kafka_restaurants.api.tables import (
    ORDER_LINES,
    ORDER_TIMELINE,
    ORDERS,
    OUTBOX,
)
from kafka_restaurants.events import (
    ORDER,
    ORDER_CONFIRM,
    PAYMENT_FAILED,
    OrderConfirmed,
    OrderStatus,
    encode,
)
from kafka_restaurants.events.models import Customer, Delivery, OrderDetails, OrderLine

log = logging.getLogger(__name__)

NOT_PROCESSED_REASON = "We couldn't process your payment. You were not charged."
DECLINED_REASON = "The card was declined."

RECONCILED = Counter(
    "orders_reconciled_total", "Pending orders settled by asking the bank", ["status"]
)
LOOKUP_FAILURES = Counter(
    "reconciliation_lookup_failures_total", "Bank charge lookups that got no answer"
)

# The timeline entry each final status adds, as the status follower writes it.
_TIMELINE_EVENT = {
    OrderStatus.CONFIRMED: "paid",
    OrderStatus.DECLINED: "declined",
    OrderStatus.FAILED: "failed",
}


@dataclass(frozen=True)
class Verdict:
    """How a pending order ends, from the bank's record of its charges."""

    status: OrderStatus  # final: confirmed, declined or failed
    charge_id: str | None = None
    decline_code: str | None = None
    reason: str | None = None


def verdict(charges: list[dict[str, Any]]) -> Verdict:
    """Confirmed if a charge succeeded, declined if one was declined, else failed (uncharged)."""
    for charge in charges:
        charge_id = charge.get("charge_id")
        if charge.get("status") == "succeeded" and isinstance(charge_id, str) and charge_id:
            return Verdict(OrderStatus.CONFIRMED, charge_id=charge_id)
    for charge in charges:
        if charge.get("status") == "declined":
            code = charge.get("decline_code")
            return Verdict(
                OrderStatus.DECLINED,
                None,
                code if isinstance(code, str) else "card_declined",
                DECLINED_REASON,
            )
    return Verdict(OrderStatus.FAILED, decline_code=PAYMENT_FAILED, reason=NOT_PROCESSED_REASON)


def stale_orders(connection: Connection, cutoff: datetime, limit: int) -> list[str]:
    """Pending orders placed before `cutoff` whose OrderPlaced was published before it too.

    An order whose event still waits in the outbox (Kafka down) is not stale: it is coming.
    """
    in_flight = exists().where(
        and_(
            OUTBOX.c.key == ORDERS.c.id,
            OUTBOX.c.topic == ORDER,
            or_(OUTBOX.c.published_at.is_(None), OUTBOX.c.published_at >= cutoff),
        )
    )
    query = (
        select(ORDERS.c.id)
        .where(ORDERS.c.status == OrderStatus.PENDING, ORDERS.c.created_at < cutoff, ~in_flight)
        .order_by(ORDERS.c.created_at)
        .limit(limit)
    )
    return [row.id for row in connection.execute(query)]


def order_details(connection: Connection, order_id: str) -> OrderDetails:
    """The order as placed, rebuilt from its rows (the OrderConfirmed event carries it)."""
    row = connection.execute(select(ORDERS).where(ORDERS.c.id == order_id)).one()
    lines = connection.execute(
        select(ORDER_LINES)
        .where(ORDER_LINES.c.order_id == order_id)
        .order_by(ORDER_LINES.c.position)
    ).all()
    return OrderDetails(
        restaurant_id=row.restaurant_id,
        restaurant_name=row.restaurant_name,
        customer=Customer(name=row.customer_name, email=row.customer_email),
        delivery=Delivery(mode=row.delivery_mode, address=row.delivery_address),
        items=[
            OrderLine(
                menu_item_id=line.menu_item_id,
                name=line.name,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                line_total_minor=line.line_total_minor,
            )
            for line in lines
        ],
        total_minor=row.total_minor,
        currency=row.currency,
    )


def record_verdict(connection: Connection, order_id: str, found: Verdict, now: datetime) -> bool:
    """Settle `order_id` as `found` says if it is still pending; False when it no longer was."""
    changed = connection.execute(
        update(ORDERS)
        .where(ORDERS.c.id == order_id, ORDERS.c.status == OrderStatus.PENDING)
        .values(
            status=found.status,
            decline_code=found.decline_code,
            decline_reason=found.reason,
            updated_at=now,
        )
    )
    if changed.rowcount != 1:
        return False
    connection.execute(
        insert(ORDER_TIMELINE),
        {"order_id": order_id, "event": _TIMELINE_EVENT[found.status], "at": now},
    )
    if found.status == OrderStatus.CONFIRMED and found.charge_id is not None:
        event = OrderConfirmed(
            order_id=order_id,
            order=order_details(connection, order_id),
            charge_id=found.charge_id,
        )
        encoded = encode(event)
        connection.execute(insert(OUTBOX), outbox_row(ORDER_CONFIRM, order_id, encoded, now))
    return True


class Reconciler:
    """Every `interval` seconds, settles the orders pending for more than `older_than` seconds."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        bank: ChargeLookup,
        older_than: float,
        interval: float = 60.0,
        batch: int = 100,
    ) -> None:
        self.sessions = sessions
        self.bank = bank
        self.older_than = older_than
        self.interval = interval
        self.batch = batch
        self._stop = threading.Event()

    def run(self) -> None:
        """Reconcile until stopped (blocking); the first round runs at once."""
        try:
            while not self._stop.is_set():
                self.reconcile_once()
                self._stop.wait(self.interval)
        finally:
            self.bank.close()

    def stop(self) -> None:
        self._stop.set()

    def _void_token_of(self, order_id: str) -> Verdict | None:
        """Before an order nothing charged is failed, its token is voided at the bank, so a
        charge still on its way (the payment service lagging past `older_than`) is declined
        instead of taking money for a failed order. A charge that won the race is looked up
        and settles the order. None: the bank did not answer; try again next round."""
        with self.sessions() as session:
            token = session.scalar(select(ORDERS.c.payment_token).where(ORDERS.c.id == order_id))
        answer = self.bank.void_token(token, order_id) if token else "unknown"
        if answer in ("voided", "unknown"):  # unknown: no token of this order can pay it
            return verdict([])
        if answer == "used":
            charges = self.bank.charges_for(order_id)
            if charges is not None and verdict(charges).status != OrderStatus.FAILED:
                return verdict(charges)
        LOOKUP_FAILURES.inc()
        return None

    def reconcile_once(self) -> dict[str, int]:
        """One round; counts of orders settled by status (and `unknown`: the bank did not say)."""
        now = datetime.now(UTC)
        with self.sessions() as session:
            ids = stale_orders(
                session.connection(), now - timedelta(seconds=self.older_than), self.batch
            )
        counts: dict[str, int] = {}
        for order_id in ids:
            if self._stop.is_set():
                break
            charges = self.bank.charges_for(order_id)
            if charges is None:
                LOOKUP_FAILURES.inc()
                counts["unknown"] = counts.get("unknown", 0) + 1
                continue  # the next round asks again
            found = verdict(charges)
            if found.status == OrderStatus.FAILED:
                after_void = self._void_token_of(order_id)
                if after_void is None:
                    counts["unknown"] = counts.get("unknown", 0) + 1
                    continue  # the next round asks again
                found = after_void
            with self.sessions() as session, session.begin():
                settled = record_verdict(session.connection(), order_id, found, datetime.now(UTC))
            if settled:
                RECONCILED.labels(found.status).inc()
                ORDERS_SETTLED.labels(found.status).inc()
                counts[found.status] = counts.get(found.status, 0) + 1
                log.warning("reconciled pending order %s: %s", order_id, found.status)
        return counts
