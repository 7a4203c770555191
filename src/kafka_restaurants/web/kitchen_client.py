"""The website's way to the kitchen service: a restaurant's tickets, and the presses on them.

The restaurant's key (from its secret link) is passed through as `X-Kitchen-Key`; only the
kitchen can tell whether it is right, so the website keeps no kitchen secret.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

KEY_HEADER = "X-Kitchen-Key"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TicketLine(_Lenient):
    name: str
    quantity: int


class Ticket(_Lenient):
    order_id: str
    customer_name: str = ""
    mode: str = "pickup"
    address: str | None = None
    items: list[TicketLine] = []
    confirmed_at: datetime
    step: str | None = None
    next_step: str | None = None


class KitchenDenied(Exception):
    """The key does not open this restaurant's kitchen."""


class KitchenUnavailable(Exception):
    """The kitchen could not be reached, failed, or answered nonsense."""


class StepNotTaken(Exception):
    """The kitchen refused a press (out of order, unknown order); the message says why."""


def tickets_version(tickets: list[Ticket]) -> str:
    """A short fingerprint of what the screen shows: it changes when anything on it does."""
    text = "|".join(f"{t.order_id}:{t.step}" for t in tickets)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class KitchenClient:
    """Typed calls to the kitchen's HTTP API."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def tickets(self, restaurant_id: int, key: str) -> list[Ticket]:
        """The restaurant's tickets, newest first."""
        response = await self._send("GET", f"/restaurants/{restaurant_id}/tickets", key)
        try:
            return [Ticket.model_validate(t) for t in response.json()["tickets"]]
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise KitchenUnavailable(f"unreadable tickets: {exc}") from exc

    async def take_step(self, restaurant_id: int, order_id: str, step: str, key: str) -> None:
        """Press `step` on an order: the kitchen publishes it to `order_status`."""
        path = f"/restaurants/{restaurant_id}/tickets/{order_id}/steps"
        response = await self._send("POST", path, key, json={"step": step})
        if response.status_code in (404, 409, 422):
            detail = _detail(response)
            raise StepNotTaken(detail)

    async def _send(
        self, method: str, path: str, key: str, json: object | None = None
    ) -> httpx.Response:
        try:
            response = await self.http.request(method, path, headers={KEY_HEADER: key}, json=json)
        except httpx.HTTPError as exc:
            raise KitchenUnavailable(str(exc)) from exc
        if response.status_code == 403:
            raise KitchenDenied
        if response.status_code >= 500:
            raise KitchenUnavailable(f"kitchen answered {response.status_code}")
        return response


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return "the kitchen refused this step"
    if isinstance(detail, list) and detail:
        return str(detail[0].get("msg", detail[0]))
    return str(detail or "the kitchen refused this step")
