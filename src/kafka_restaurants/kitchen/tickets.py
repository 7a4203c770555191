"""What a kitchen ticket is, and which step may come next: plain rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kafka_restaurants.events import OrderConfirmed, OrderStep

# The steps in the order a kitchen takes them; a pickup order ends at READY.
STEP_SEQUENCE = (OrderStep.ACCEPTED, OrderStep.READY, OrderStep.OUT_FOR_DELIVERY)
PICKUP_STEPS = STEP_SEQUENCE[:2]


class StepRefused(ValueError):
    """A step that cannot be taken on this ticket now; the message says why."""


@dataclass(frozen=True)
class TicketLine:
    name: str
    quantity: int


@dataclass(frozen=True)
class Ticket:
    """A confirmed order as the restaurant sees it, with the steps taken so far."""

    order_id: str
    restaurant_id: int
    customer_name: str
    mode: str
    address: str | None
    items: tuple[TicketLine, ...]
    confirmed_at: datetime
    steps: dict[OrderStep, datetime] = field(default_factory=dict)

    @property
    def possible_steps(self) -> tuple[OrderStep, ...]:
        """Every step this order goes through: pickup orders are never out for delivery."""
        return STEP_SEQUENCE if self.mode == "delivery" else PICKUP_STEPS

    @property
    def step(self) -> OrderStep | None:
        """The furthest step taken, or None while the order waits to be accepted."""
        taken = [step for step in STEP_SEQUENCE if step in self.steps]
        return taken[-1] if taken else None

    @property
    def next_step(self) -> OrderStep | None:
        """The step the kitchen can take now, or None when the order is done."""
        for step in self.possible_steps:
            if step not in self.steps:
                return step
        return None


def check_step(ticket: Ticket, step: OrderStep) -> bool:
    """True when `step` is the next one; False when it was taken already (nothing to do).

    Raises StepRefused for a step out of order, or out for delivery on a pickup order.
    """
    if step not in ticket.possible_steps:
        raise StepRefused(f"step: {step.value} does not apply to a {ticket.mode} order")
    if step in ticket.steps:
        return False
    if step != ticket.next_step:
        expected = ticket.next_step.value if ticket.next_step else "none"
        raise StepRefused(f"step: {step.value} comes after {expected}")
    return True


def ticket_row(event: OrderConfirmed) -> dict[str, Any]:
    """The kitchen_tickets row for a confirmed order: what to cook and for whom, no prices."""
    order = event.order
    return {
        "order_id": event.order_id,
        "restaurant_id": order.restaurant_id,
        "customer_name": order.customer.name,
        "mode": order.delivery.mode,
        "address": order.delivery.address,
        "items": [{"name": line.name, "quantity": line.quantity} for line in order.items],
        "confirmed_at": event.occurred_at,
    }
