"""The kitchen screen: a restaurant's incoming orders, live, with a button for the next step.

Opened from the restaurant's secret link (`/kitchen/{id}?key=...`); the key goes with every
call to the kitchen service, which alone can check it. Presses are POSTed forms (CSRF-checked)
that the kitchen turns into `order_status` events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kafka_restaurants.web.kitchen_client import (
    KitchenUnavailable,
    StepNotTaken,
    Ticket,
    tickets_version,
)
from kafka_restaurants.web.live import Snapshot, event_stream, last_seen, snapshots
from kafka_restaurants.web.orders import valid_order_id
from kafka_restaurants.web.pages import checked_form, kitchen, render, render_text

router = APIRouter()

RestaurantId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The buttons, as the restaurant reads them.
STEP_LABELS = {"accepted": "Accept", "ready": "Ready", "out_for_delivery": "Out for delivery"}
STEP_STATES = {None: "New", "accepted": "Accepted", "ready": "Ready", "out_for_delivery": "Out"}


def _context(restaurant_id: int, key: str, tickets: list[Ticket]) -> dict[str, object]:
    return {
        "restaurant_id": restaurant_id,
        "key": key,
        "tickets": tickets,
        "version": tickets_version(tickets),
        "now": datetime.now(UTC),
        "step_labels": STEP_LABELS,
        "step_states": STEP_STATES,
        "query": urlencode({"key": key}),
    }


@router.get("/kitchen/{restaurant_id}", response_class=HTMLResponse)
async def kitchen_page(request: Request, restaurant_id: RestaurantId, key: str = "") -> Response:
    """The kitchen screen: tickets newest first, each with its next step's button."""
    tickets = await kitchen(request).tickets(restaurant_id, key)
    return render(request, "kitchen.html", _context(restaurant_id, key, tickets))


@router.get("/kitchen/{restaurant_id}/tickets", response_class=HTMLResponse)
async def kitchen_tickets(
    request: Request, restaurant_id: RestaurantId, key: str = "", since: str = ""
) -> Response:
    """The tickets fragment, for browsers without Server-Sent Events (204 while unchanged)."""
    try:
        tickets = await kitchen(request).tickets(restaurant_id, key)
    except KitchenUnavailable:
        return Response(status_code=204)  # a blip: the screen asks again in a second
    context = _context(restaurant_id, key, tickets)
    if context["version"] == since:
        return Response(status_code=204)
    return render(request, "_kitchen_tickets.html", context)


@router.get("/kitchen/{restaurant_id}/events")
async def kitchen_events(
    request: Request, restaurant_id: RestaurantId, key: str = "", since: str = ""
) -> Response:
    """The tickets fragment pushed as Server-Sent Events whenever a ticket comes or moves."""
    await kitchen(request).tickets(restaurant_id, key)  # a wrong key gets 403, not a stream

    async def current() -> Snapshot | None:
        try:
            tickets = await kitchen(request).tickets(restaurant_id, key)
        except KitchenUnavailable:
            return None
        context = _context(restaurant_id, key, tickets)
        html = render_text(request, "_kitchen_tickets.html", context)
        return Snapshot(str(context["version"]), html)

    return event_stream(snapshots(request, current, last_seen(request, since)))


@router.post("/kitchen/{restaurant_id}/orders/{order_id}/steps")
async def press_step(request: Request, restaurant_id: RestaurantId, order_id: str) -> Response:
    """A button press: the kitchen publishes the step; back to the screen (or its fragment)."""
    form = await checked_form(request)
    if not valid_order_id(order_id):
        raise HTTPException(status_code=404)
    key, step = str(form.get("key", "")), str(form.get("step", ""))
    notice = ""
    try:
        await kitchen(request).take_step(restaurant_id, order_id, step, key)
    except StepNotTaken as exc:
        notice = str(exc)
    if request.headers.get("HX-Request") == "true":
        tickets = await kitchen(request).tickets(restaurant_id, key)
        context = {**_context(restaurant_id, key, tickets), "notice": notice}
        return render(request, "_kitchen_tickets.html", context)
    query = {"key": key, **({"notice": notice} if notice else {})}
    return RedirectResponse(f"/kitchen/{restaurant_id}?{urlencode(query)}", status_code=303)
