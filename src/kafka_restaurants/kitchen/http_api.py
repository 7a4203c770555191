"""The kitchen's HTTP API, for the website: a restaurant's tickets and the presses on them.

Every route but health and metrics needs the restaurant's key (the `X-Kitchen-Key` header,
from its secret link): the website forwards what the link carried and keeps no secret itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from kafka_restaurants.events import OrderStatusChanged, OrderStep
from kafka_restaurants.kitchen.access import KEY_HEADER, key_matches
from kafka_restaurants.kitchen.store import MAX_TICKETS, KitchenStore
from kafka_restaurants.kitchen.tickets import StepRefused, Ticket, check_step
from kafka_restaurants.service_app import Lifespan, Probe, service_app

# Publishes one event and says whether the cluster acknowledged it (blocking).
Publish = Callable[[OrderStatusChanged], bool]
RestaurantId = Annotated[int, Path(ge=1, le=2**31 - 1)]
OrderId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class TicketLineOut(BaseModel):
    name: str
    quantity: int


class TicketOut(BaseModel):
    order_id: str
    customer_name: str
    mode: str
    address: str | None
    items: list[TicketLineOut]
    confirmed_at: datetime
    step: OrderStep | None
    next_step: OrderStep | None
    steps: dict[OrderStep, datetime]


class TicketsOut(BaseModel):
    restaurant_id: int
    tickets: list[TicketOut]


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: OrderStep


class StepOut(BaseModel):
    order_id: str
    step: OrderStep
    published: bool


def ticket_out(ticket: Ticket) -> TicketOut:
    return TicketOut(
        order_id=ticket.order_id,
        customer_name=ticket.customer_name,
        mode=ticket.mode,
        address=ticket.address,
        items=[TicketLineOut(name=i.name, quantity=i.quantity) for i in ticket.items],
        confirmed_at=ticket.confirmed_at,
        step=ticket.step,
        next_step=ticket.next_step,
        steps=dict(ticket.steps),
    )


# How long a press waits for its step to be read back before answering anyway.
SHOWN_WITHIN_SECONDS = 2.0


async def shown(store: KitchenStore, order_id: str, step: OrderStep) -> bool:
    """Wait until the ticket shows `step` (True), or SHOWN_WITHIN_SECONDS pass (False)."""
    deadline = asyncio.get_running_loop().time() + SHOWN_WITHIN_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        ticket = await asyncio.to_thread(store.ticket, order_id)
        if ticket is not None and step in ticket.steps:
            return True
        await asyncio.sleep(0.05)
    return False


def create_kitchen_app(
    store: KitchenStore,
    secret: str,
    publish: Publish,
    is_ready: Callable[[], bool],
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """The kitchen's app (the shared service factory: probes, metrics, redacted 422s) with
    its routes over `store`; presses go out through `publish`. Ready while the follower runs."""
    router = APIRouter()

    def ready(_request: Request) -> Probe:
        return (True, {"status": "ready"}) if is_ready() else (False, {"status": "not ready"})

    def authorise(restaurant_id: int, key: str | None) -> None:
        if not key_matches(secret, restaurant_id, key):
            raise HTTPException(403, f"{KEY_HEADER}: not this restaurant's kitchen key")

    @router.get("/restaurants/{restaurant_id}/tickets", response_model=TicketsOut)
    async def tickets(
        restaurant_id: RestaurantId,
        x_kitchen_key: Annotated[str | None, Header()] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = MAX_TICKETS,
    ) -> TicketsOut:
        """The restaurant's tickets, newest first (the newest `limit`)."""
        authorise(restaurant_id, x_kitchen_key)
        found = await asyncio.to_thread(store.tickets, restaurant_id, limit)
        return TicketsOut(restaurant_id=restaurant_id, tickets=[ticket_out(t) for t in found])

    @router.post(
        "/restaurants/{restaurant_id}/tickets/{order_id}/steps",
        response_model=StepOut,
        status_code=202,
        responses={200: {"model": StepOut}, 404: {}, 409: {}, 503: {}},
    )
    async def take_step(
        restaurant_id: RestaurantId,
        order_id: OrderId,
        body: StepIn,
        x_kitchen_key: Annotated[str | None, Header()] = None,
    ) -> Response:
        """Publish the step to `order_status` (202), or 200 when it was taken already."""
        authorise(restaurant_id, x_kitchen_key)
        ticket = await asyncio.to_thread(store.ticket, order_id)
        if ticket is None or ticket.restaurant_id != restaurant_id:
            raise HTTPException(404, "order_id: no such order in this kitchen")
        try:
            new = check_step(ticket, body.step)
        except StepRefused as exc:
            raise HTTPException(409, str(exc)) from exc
        if new:
            event = OrderStatusChanged(
                order_id=order_id, restaurant_id=restaurant_id, step=body.step
            )
            if not await asyncio.to_thread(publish, event):
                # Nothing was recorded: the step is taken only once Kafka has it.
                raise HTTPException(503, "order_status: Kafka did not take the step; press again")
            # The ticket moves when a follower reads the step back (ms): wait for it, so the
            # screen the press returns to shows the step and not the same button again.
            await shown(store, order_id, body.step)
        out = StepOut(order_id=order_id, step=body.step, published=new)
        return JSONResponse(out.model_dump(mode="json"), status_code=202 if new else 200)

    return service_app(
        "kitchen",
        title="Kafka Restaurants kitchen",
        routers=[router],
        lifespan=lifespan,
        ready_check=ready,
    )
