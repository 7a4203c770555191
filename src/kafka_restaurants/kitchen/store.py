"""The kitchen's tables: record tickets and steps idempotently, read a restaurant's queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Row, func, select

from kafka_restaurants.db.engine import conflict_insert
from kafka_restaurants.events import OrderStatusChanged, OrderStep
from kafka_restaurants.kitchen.tables import KitchenStep, KitchenTicket
from kafka_restaurants.kitchen.tickets import Ticket, TicketLine

MAX_TICKETS = 200


class KitchenStore:
    """Tickets and steps in the kitchen's database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Insert-or-ignore on the primary keys: replays, redeliveries and a second instance
        # seeing the same message all leave the first row as it was.
        self._add_tickets = conflict_insert(engine, KitchenTicket).on_conflict_do_nothing(
            index_elements=["order_id"]
        )
        self._add_steps = conflict_insert(engine, KitchenStep).on_conflict_do_nothing(
            index_elements=["order_id", "step"]
        )

    def record(
        self, tickets: Sequence[dict[str, Any]], steps: Sequence[OrderStatusChanged]
    ) -> None:
        """Store new tickets and steps in one transaction; known ones stay as they were."""
        step_rows = [
            {"order_id": s.order_id, "step": s.step.value, "occurred_at": s.occurred_at}
            for s in steps
        ]
        with self.engine.begin() as conn:
            if tickets:
                conn.execute(self._add_tickets, list(tickets))
            if step_rows:
                conn.execute(self._add_steps, step_rows)

    def tickets(self, restaurant_id: int, limit: int = MAX_TICKETS) -> list[Ticket]:
        """The restaurant's tickets, newest first, with their steps."""
        query = (
            select(KitchenTicket.__table__)
            .where(KitchenTicket.restaurant_id == restaurant_id)
            .order_by(KitchenTicket.confirmed_at.desc(), KitchenTicket.order_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            steps = self._steps(conn, [row.order_id for row in rows])
        return [_ticket(row, steps.get(row.order_id, {})) for row in rows]

    def ticket(self, order_id: str) -> Ticket | None:
        """One ticket, or None when the kitchen has no such order."""
        query = select(KitchenTicket.__table__).where(KitchenTicket.order_id == order_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            return _ticket(row, self._steps(conn, [order_id]).get(order_id, {}))

    def count(self) -> int:
        """How many tickets there are (the bench's audit compares it with confirmed orders)."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(KitchenTicket)) or 0)

    @staticmethod
    def _steps(conn: Any, order_ids: list[str]) -> dict[str, dict[OrderStep, Any]]:
        if not order_ids:
            return {}
        query = select(KitchenStep.__table__).where(KitchenStep.order_id.in_(order_ids))
        found: dict[str, dict[OrderStep, Any]] = {}
        for row in conn.execute(query):
            found.setdefault(row.order_id, {})[OrderStep(row.step)] = row.occurred_at
        return found


def _ticket(row: Row[Any], steps: dict[OrderStep, Any]) -> Ticket:
    return Ticket(
        order_id=row.order_id,
        restaurant_id=row.restaurant_id,
        customer_name=row.customer_name,
        mode=row.mode,
        address=row.address,
        items=tuple(TicketLine(str(i["name"]), int(i["quantity"])) for i in row.items),
        confirmed_at=row.confirmed_at,
        steps=steps,
    )
