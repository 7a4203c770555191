"""Placing orders and following them."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kafka_restaurants.api.admission import ORDERS_REFUSED, Refusal, RefusalReason
from kafka_restaurants.api.dependencies import SessionDep
from kafka_restaurants.api.ordering import PlaceOrderRequest, place_order
from kafka_restaurants.api.schemas import (
    UNREADABLE_BODY,
    CardOut,
    CustomerOut,
    DeliveryOut,
    OrderAccepted,
    OrderLineOut,
    OrderOut,
    TimelineEntryOut,
)
from kafka_restaurants.api.tables import Order
from kafka_restaurants.observability import inject_traceparent, order_context

log = logging.getLogger(__name__)

router = APIRouter(tags=["orders"])

ORDERS_PLACED = Counter("orders_placed_total", "Orders accepted for payment (202, first time)")


class OrderRefused(BaseModel):
    """Nothing was written: try again after `retry_after_ms` (also Retry-After, in seconds)."""

    detail: str
    reason: RefusalReason
    retry_after_ms: int


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
_BUSY = {
    "rate_limited": "You are placing orders too fast; try again in a few seconds.",
    "in_flight": "We're very busy; try again in a few seconds.",
    "outbox_backlog": "We're very busy; try again in a few seconds.",
    "payment_unavailable": "The payment service is unavailable; please try again shortly.",
}


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
            "waiting for Kafka), or the payment service is unavailable; nothing was written",
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
    x_forwarded_for: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Accept an order for payment. The same Idempotency-Key never places two orders."""
    state = request.app.state
    peer = request.client.host if request.client else None
    client = state.trusted_proxies.client_key(peer, x_forwarded_for)
    wait_ms = state.order_rate.take(client) if client is not None else None
    if wait_ms is not None:
        ORDERS_REFUSED.labels("rate_limited").inc()
        return refused_response(429, Refusal("rate_limited", wait_ms))
    # Decided here on the event loop, before the order waits for a worker thread: a refused
    # order costs no thread, no database and no bank call.
    refusal = state.order_gate.enter()
    if refusal is not None:
        return refused_response(503, refusal)
    try:
        # The OrderPlaced event continues this request's span, so the payment and the email
        # join the trace the caller (the web replica) started.
        traceparent = inject_traceparent() or traceparent
        order, created = await run_in_threadpool(
            place_order, state.sessions, state.card_tokens, body, idempotency_key, traceparent
        )
    finally:
        state.order_gate.leave()
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


def refused_response(status_code: int, refusal: Refusal) -> JSONResponse:
    """The answer to an order refused with nothing written: when to retry, in body and header."""
    body = OrderRefused(
        detail=_BUSY[refusal.reason], reason=refusal.reason, retry_after_ms=refusal.retry_after_ms
    )
    return JSONResponse(
        body.model_dump(),
        status_code=status_code,
        headers={"Retry-After": refusal.retry_after_header},
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
        timeline=[TimelineEntryOut(event=entry.event, at=entry.at) for entry in order.timeline],
        created_at=order.created_at,
    )
