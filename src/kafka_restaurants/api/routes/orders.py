"""Placing orders and following them."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kafka_restaurants.api.admission import OrderRefused
from kafka_restaurants.api.dependencies import SessionDep
from kafka_restaurants.api.order_steps import current_step
from kafka_restaurants.api.ordering import place_order
from kafka_restaurants.api.schemas import (
    UNREADABLE_BODY,
    CardOut,
    CustomerOut,
    DeliveryOut,
    OrderAccepted,
    OrderLineOut,
    OrderOut,
    PlaceOrderRequest,
    TimelineEntryOut,
)
from kafka_restaurants.api.tables import Order
from kafka_restaurants.observability import inject_traceparent, order_context

log = logging.getLogger(__name__)

router = APIRouter(tags=["orders"])

ORDERS_PLACED = Counter("orders_placed_total", "Orders accepted for payment (202, first time)")


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}


@router.post(
    "/orders",
    status_code=202,
    response_model=OrderAccepted,
    responses={
        **UNREADABLE_BODY,
        409: {"description": "The Idempotency-Key already placed an order with other details"},
        422: {"description": "A field is wrong; `detail` says which and why"},
        429: {
            "description": "This client placed too many orders lately; nothing was written",
            "model": OrderRefused,
            "headers": _RETRY_AFTER,
        },
        503: {
            "description": "The api is too busy (too many orders in flight, or too many events "
            "waiting for Kafka), or the payment service or the database is unavailable; "
            "nothing was written",
            "model": OrderRefused,
            "headers": _RETRY_AFTER,
        },
    },
)
async def create_order(
    body: PlaceOrderRequest,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
    traceparent: Annotated[str | None, Header(max_length=100)] = None,
) -> Response:
    """Accept an order for payment. The same Idempotency-Key never places two orders.

    Rate limit and admission (429/503) are decided before this runs: OrderAdmission.
    """
    state = request.app.state
    # The OrderPlaced event continues this request's span, so the payment and the email
    # join the trace the caller (the web replica) started.
    traceparent = inject_traceparent() or traceparent
    order, created = await run_in_threadpool(
        place_order, state.sessions, state.card_tokens, body, idempotency_key, traceparent
    )
    if created:
        ORDERS_PLACED.inc()
        with order_context(order.order_id):
            log.info("order placed: %d %s", order.total_minor, order.currency)
    if created and state.relay is not None:
        state.relay.wake()
    # Answered directly (response_model only documents it): FastAPI would otherwise validate
    # and serialize the answer a second time.
    return JSONResponse(
        {
            "order_id": order.order_id,
            "status": order.status,
            "total_minor": order.total_minor,
            "currency": order.currency,
        },
        status_code=202,
        headers={"Location": f"/orders/{order.order_id}"},
    )


@router.get("/orders/{order_id}", response_model=OrderOut, responses={404: {}})
def get_order(order_id: uuid.UUID, session: SessionDep) -> OrderOut:
    """An order's status, decline reason, items, total and timeline."""
    order = session.scalar(
        select(Order)
        .where(Order.id == str(order_id))
        .options(selectinload(Order.lines), selectinload(Order.timeline))
    )
    if order is None:
        raise HTTPException(404, f"order {order_id} does not exist")
    return OrderOut(
        order_id=order.id,
        status=order.status,
        decline_code=order.decline_code,
        decline_reason=order.decline_reason,
        restaurant_id=order.restaurant_id,
        restaurant_name=order.restaurant_name,
        items=[OrderLineOut.model_validate(line) for line in order.lines],
        total_minor=order.total_minor,
        currency=order.currency,
        customer=CustomerOut(name=order.customer_name, email=order.customer_email),
        delivery=DeliveryOut(mode=order.delivery_mode, address=order.delivery_address),
        card=CardOut(brand=order.card_brand, last4=order.card_last4),
        step=current_step(entry.event for entry in order.timeline),
        timeline=[TimelineEntryOut(event=entry.event, at=entry.at) for entry in order.timeline],
        created_at=order.created_at,
    )
