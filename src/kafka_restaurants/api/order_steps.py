"""The kitchen's steps on a confirmed order, kept in the order's timeline for the customer.

A step is a timeline entry named after it (`accepted`, `ready`, `out_for_delivery`); the
order's status stays `confirmed`, its payment outcome. Recording is idempotent: a step already
in the timeline is not added again, so replays and redeliveries change nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.api.tables import ORDER_TIMELINE, ORDERS
from kafka_restaurants.events import (
    InvalidEvent,
    OrderStatus,
    OrderStatusChanged,
    OrderStep,
    decode,
)
from kafka_restaurants.messaging.outcomes import (
    Cause,
    DeadLetter,
    Done,
    Incoming,
    Outcome,
    Retry,
    database_down,
    invalid,
)

log = logging.getLogger(__name__)

STEP_NAMES = tuple(step.value for step in OrderStep)
_STEP_RANK = {name: rank for rank, name in enumerate(STEP_NAMES)}

_LOCK_ORDERS = (
    select(ORDERS.c.id, ORDERS.c.status, ORDERS.c.restaurant_id, ORDERS.c.delivery_mode)
    .where(ORDERS.c.id.in_(bindparam("ids", expanding=True)))
    .with_for_update()
)
_TAKEN = select(ORDER_TIMELINE.c.order_id, ORDER_TIMELINE.c.event).where(
    ORDER_TIMELINE.c.order_id.in_(bindparam("ids", expanding=True)),
    ORDER_TIMELINE.c.event.in_(STEP_NAMES),
)


def current_step(events: Iterable[str]) -> str | None:
    """The furthest kitchen step among an order's timeline events, or None."""
    steps = [event for event in events if event in _STEP_RANK]
    return max(steps, key=_STEP_RANK.__getitem__) if steps else None


def refusal(row: object, event: OrderStatusChanged) -> str | None:
    """Why `event` can never apply to the order `row`, or None when it can."""
    status = getattr(row, "status", None)
    if status in (OrderStatus.DECLINED, OrderStatus.FAILED):
        return f"order_id: order {event.order_id} is {status}; only confirmed orders take steps"
    if event.restaurant_id != getattr(row, "restaurant_id", None):
        return f"restaurant_id: order {event.order_id} is not this restaurant's"
    if event.step is OrderStep.OUT_FOR_DELIVERY and getattr(row, "delivery_mode", "") != "delivery":
        return f"step: order {event.order_id} is for pickup, never out for delivery"
    return None


def apply_order_steps(connection: Connection, events: list[OrderStatusChanged]) -> list[Outcome]:
    """Add each new step to its order's timeline, in one transaction the caller owns.

    Answers one outcome per event: Done (recorded, or recorded before), Retry while the order
    waits for its payment result, DeadLetter for a step that can never apply. The orders are
    read (on PostgreSQL, locked) first, so two api processes recording the same step during a
    rebalance do not both add it.
    """
    if not events:
        return []
    ids = sorted({event.order_id for event in events})
    orders = {row.id: row for row in connection.execute(_LOCK_ORDERS, {"ids": ids})}
    taken = {(row.order_id, row.event) for row in connection.execute(_TAKEN, {"ids": ids})}
    entries: list[dict[str, object]] = []
    outcomes: list[Outcome] = []
    for event in events:
        row = orders.get(event.order_id)
        if row is None:
            outcomes.append(
                DeadLetter(f"order_id: unknown order {event.order_id}", cause=Cause.UNKNOWN_ORDER)
            )
        elif row.status == OrderStatus.PENDING:
            outcomes.append(
                Retry(f"order {event.order_id} waits for its payment result", Cause.WAITING)
            )
        elif reason := refusal(row, event):
            outcomes.append(DeadLetter(reason, cause=Cause.NOT_APPLICABLE))
        else:
            outcomes.append(Done())
            if (event.order_id, event.step.value) not in taken:
                taken.add((event.order_id, event.step.value))
                entries.append(
                    {"order_id": event.order_id, "event": event.step.value, "at": event.occurred_at}
                )
    if entries:
        connection.execute(insert(ORDER_TIMELINE), entries)
    return outcomes


async def record_steps(sessions: sessionmaker[Session], batch: list[Incoming]) -> list[Outcome]:
    """Parse and record a batch of `order_status` messages; one outcome per message."""
    outcomes: list[Outcome] = []
    events: list[tuple[int, OrderStatusChanged]] = []
    for index, message in enumerate(batch):
        try:
            events.append((index, decode(message.value, message.headers, OrderStatusChanged)))
            outcomes.append(Done())
        except InvalidEvent as exc:
            outcomes.append(invalid(exc))
    if not events:
        return outcomes

    def apply() -> list[Outcome]:
        with sessions() as session, session.begin():
            return apply_order_steps(session.connection(), [event for _, event in events])

    try:
        applied = await asyncio.to_thread(apply)
    except Exception as exc:  # database down or locked: keep the messages, try again
        log.warning("could not record kitchen steps: %s", exc)
        return database_down(outcomes, exc)
    for (index, _), outcome in zip(events, applied, strict=True):
        outcomes[index] = outcome
    return outcomes
