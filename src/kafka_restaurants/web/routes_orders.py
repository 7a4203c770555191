"""The order page and its live status fragment."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kafka_restaurants.web.api_client import ApiNotFound, ApiUnavailable, Order
from kafka_restaurants.web.cart import cart_from_order
from kafka_restaurants.web.live import Snapshot, event_stream, last_seen, snapshots
from kafka_restaurants.web.orders import (
    decline_explanation,
    failure_explanation,
    is_finished,
    order_version,
    valid_order_id,
)
from kafka_restaurants.web.pages import api, checked_form, render, render_text, save_cart

# htmx stops an `every` poll when the answer is 286; 204 means "nothing new, keep polling".
STOP_POLLING = 286

router = APIRouter()


def _order_context(order: Order) -> dict[str, object]:
    return {
        "order": order,
        "terminal": is_finished(order.status, order.step, order.delivery.mode),
        "version": order_version(order.status, order.step),
        "decline_explanation": decline_explanation(order.decline_code, order.decline_reason)
        if order.status == "declined"
        else "",
        "failure_explanation": failure_explanation(order.decline_reason)
        if order.status == "failed"
        else "",
    }


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: str) -> HTMLResponse:
    """An order's items, total and status; the status refreshes itself while pending."""
    if not valid_order_id(order_id):
        raise HTTPException(status_code=404)
    order = await api(request).order(order_id)
    return render(request, "order.html", _order_context(order))


@router.get("/orders/{order_id}/status", response_class=HTMLResponse)
async def order_status_fragment(request: Request, order_id: str, since: str = "") -> Response:
    """The status fragment, for browsers without Server-Sent Events: 204 while unchanged,
    the new fragment when it changes, 286 (htmx stops polling) once nothing more happens.

    Any replica can answer: the state comes from the api, none is kept here.
    """
    if not valid_order_id(order_id):
        raise HTTPException(status_code=404)
    try:
        order = await api(request).order(order_id)
    except (ApiUnavailable, ApiNotFound):
        # A blip (api restarting, replica changing) must not break the page: poll again.
        return Response(status_code=204)
    context = _order_context(order)
    if context["version"] == since and not context["terminal"]:
        return Response(status_code=204)
    response = render(request, "_order_status.html", context)
    if context["terminal"]:
        response.status_code = STOP_POLLING
    return response


@router.get("/orders/{order_id}/events")
async def order_events(request: Request, order_id: str, since: str = "") -> Response:
    """The status fragment pushed as Server-Sent Events whenever the order changes."""
    if not valid_order_id(order_id):
        raise HTTPException(status_code=404)

    async def current() -> Snapshot | None:
        try:
            order = await api(request).order(order_id)
        except (ApiUnavailable, ApiNotFound):
            return None
        context = _order_context(order)
        html = render_text(request, "_order_status.html", context)
        return Snapshot(str(context["version"]), html, bool(context["terminal"]))

    return event_stream(snapshots(request, current, last_seen(request, since)))


@router.post("/orders/{order_id}/retry")
async def retry_order(request: Request, order_id: str) -> Response:
    """Put a declined order's items back in the cart and go to checkout for another card."""
    await checked_form(request)
    if not valid_order_id(order_id):
        raise HTTPException(status_code=404)
    order = await api(request).order(order_id)
    cart = cart_from_order(
        order.restaurant_id, ((line.menu_item_id, line.quantity) for line in order.items)
    )
    response = RedirectResponse("/checkout" if not cart.is_empty else "/cart", status_code=303)
    save_cart(request, response, cart)
    return response
