"""An in-memory stand-in for the api's HTTP contract, for web tests without I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx


def restaurant(
    rid: int, name: str, *, delivery: bool = True, style: str = "Israeli"
) -> dict[str, Any]:
    """A restaurant as GET /restaurants/{id} returns it, with a small menu."""
    return {
        "id": rid,
        "name": name,
        "style": style,
        "vegetarian": True,
        "delivery": delivery,
        "description": f"About {name}",
        "neighbourhood": "Florentin",
        "opening_hours": "12:00-23:00",
        "menu": [
            {
                "id": rid * 100 + 1,
                "name": "Hummus",
                "description": "Warm",
                "category": "Mains",
                "price_minor": 4200,
                "currency": "ILS",
                "vegetarian": True,
                "available": True,
            },
            {
                "id": rid * 100 + 2,
                "name": "Lemonade",
                "description": "",
                "category": "Drinks",
                "price_minor": 1200,
                "currency": "ILS",
                "vegetarian": True,
                "available": True,
            },
            {
                "id": rid * 100 + 3,
                "name": "Gone",
                "description": "",
                "category": "Drinks",
                "price_minor": 900,
                "currency": "ILS",
                "vegetarian": True,
                "available": False,
            },
        ],
    }


@dataclass
class FakeApi:
    """Answers like the api; `down` makes every call fail to connect."""

    restaurants: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    order_requests: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    reject_with: list[dict[str, Any]] | None = None
    down: bool = False
    orders_time_out: bool = False
    # Status codes (503 busy, 429 too many, 409 key reused) the next POST /orders get, in order.
    refuse_next: list[int] = field(default_factory=list)
    forwarded_for: list[str | None] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path
        if path == "/styles":
            return httpx.Response(200, json=sorted({r["style"] for r in self.restaurants.values()}))
        if path == "/search":
            return self._search(request.url.params.get("q", "").lower())
        if path.startswith("/restaurants/"):
            found = self.restaurants.get(int(path.rsplit("/", 1)[1]))
            if found is None:
                return httpx.Response(404, json={"detail": "Restaurant not found"})
            return httpx.Response(200, json=found)
        if path == "/orders" and request.method == "POST":
            return self._place_order(request)
        if path.startswith("/orders/"):
            order = self.orders.get(path.rsplit("/", 1)[1])
            if order is None:
                return httpx.Response(404, json={"detail": "Order not found"})
            return httpx.Response(200, json=order)
        return httpx.Response(404, json={"detail": "Not Found"})

    def _search(self, q: str) -> httpx.Response:
        found = [
            {k: v for k, v in r.items() if k != "menu"}
            for r in self.restaurants.values()
            if q in r["name"].lower()
        ]
        return httpx.Response(200, json=found, headers={"X-Total-Count": str(len(found))})

    def _place_order(self, request: httpx.Request) -> httpx.Response:
        if self.orders_time_out:
            raise httpx.ReadTimeout("api too slow", request=request)
        body = json.loads(request.content)
        self.order_requests.append((body, request.headers.get("Idempotency-Key")))
        self.forwarded_for.append(request.headers.get("X-Forwarded-For"))
        if self.refuse_next:
            return self._refusal(self.refuse_next.pop(0))
        if self.reject_with is not None:
            return httpx.Response(422, json={"detail": self.reject_with})
        order_id = f"order-{len(self.order_requests)}"
        self.orders[order_id] = self._order(order_id, body)
        return httpx.Response(202, json={"order_id": order_id, "status": "pending"})

    @staticmethod
    def _refusal(status: int) -> httpx.Response:
        if status == 409:
            error = {"loc": ["header", "Idempotency-Key"], "msg": "key reused", "type": "x"}
            return httpx.Response(409, json={"detail": [error]})
        body = {"detail": "We're very busy", "reason": "in_flight", "retry_after_ms": 1500}
        return httpx.Response(status, json=body, headers={"Retry-After": "2"})

    def _order(self, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.restaurants[body["restaurant_id"]]
        return {
            "order_id": order_id,
            "status": "pending",
            "decline_code": None,
            "decline_reason": None,
            "restaurant_id": r["id"],
            "restaurant_name": r["name"],
            "items": [
                {
                    "menu_item_id": i["menu_item_id"],
                    "name": "Hummus",
                    "quantity": i["quantity"],
                    "unit_price_minor": 4200,
                    "line_total_minor": 4200 * i["quantity"],
                }
                for i in body["items"]
            ],
            "total_minor": sum(4200 * i["quantity"] for i in body["items"]),
            "currency": "ILS",
            "customer": {"name": body["name"], "email": body["email"]},
            "delivery": {
                "mode": "delivery" if body.get("delivery_address") else "pickup",
                "address": body.get("delivery_address"),
            },
            "card": {"brand": "visa", "last4": body["card"]["number"][-4:]},
            "timeline": [{"event": "order_placed", "at": "2025-01-01T12:00:00Z"}],
            "created_at": "2025-01-01T12:00:00Z",
        }
