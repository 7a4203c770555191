"""Confirmed orders and tickets for kitchen tests."""

from __future__ import annotations

from datetime import UTC, datetime

from kafka_restaurants.events import Delivery, OrderConfirmed, OrderStep
from kafka_restaurants.kitchen.tickets import Ticket, TicketLine
from tests.unit.mailer.samples import confirmed


def confirmed_for(
    order_id: str, restaurant_id: int = 7, *, delivery: bool = False
) -> OrderConfirmed:
    """A confirmed order of 2 x Falafel plate and 1 x Lemonade at restaurant `restaurant_id`."""
    mode = Delivery(mode="delivery", address="1 Herzl St") if delivery else Delivery(mode="pickup")
    event = confirmed(order_id, delivery=mode)
    order = event.order.model_copy(update={"restaurant_id": restaurant_id})
    return event.model_copy(update={"order": order})


def ticket(mode: str = "pickup", *steps: OrderStep) -> Ticket:
    at = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    return Ticket(
        order_id="o-1",
        restaurant_id=7,
        customer_name="Dana",
        mode=mode,
        address=None,
        items=(TicketLine("Falafel plate", 2),),
        confirmed_at=at,
        steps={step: at for step in steps},
    )
