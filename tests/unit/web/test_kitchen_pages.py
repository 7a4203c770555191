"""The kitchen screen and live streams against in-memory api and kitchen services."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from kafka_restaurants.settings import Settings
from kafka_restaurants.web import live
from kafka_restaurants.web.app import create_app
from kafka_restaurants.web.live import Snapshot, snapshots, sse_event
from tests.unit.web.fake_api import FakeApi
from tests.unit.web.test_pages import csrf_of

KEY = "good-key"
NEXT = {None: "accepted", "accepted": "ready", "ready": "out_for_delivery"}


def ticket(order_id: str, minutes_ago: int, mode: str = "delivery") -> dict[str, Any]:
    return {
        "order_id": order_id,
        "customer_name": "Dana",
        "mode": mode,
        "address": "1 Herzl St" if mode == "delivery" else None,
        "items": [{"name": "Hummus", "quantity": 2}, {"name": "Lemonade", "quantity": 1}],
        "confirmed_at": f"2026-12-02T12:{59 - minutes_ago:02d}:00+00:00",
        "step": None,
        "next_step": "accepted",
    }


@dataclass
class FakeKitchen:
    """Answers like the kitchen service for restaurant 7 and the key KEY."""

    tickets: list[dict[str, Any]] = field(default_factory=list)
    presses: list[tuple[str, str]] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("X-Kitchen-Key") != KEY or "/restaurants/7/" not in request.url.path:
            return httpx.Response(403, json={"detail": "X-Kitchen-Key: not this kitchen"})
        if request.method == "GET":
            return httpx.Response(200, json={"restaurant_id": 7, "tickets": self.tickets})
        order_id = request.url.path.split("/")[-2]
        step = json.loads(request.content)["step"]
        found = next(t for t in self.tickets if t["order_id"] == order_id)
        if step != found["next_step"]:
            return httpx.Response(409, json={"detail": f"step: {step} comes after accepted"})
        self.presses.append((order_id, step))
        found.update(step=step, next_step=NEXT.get(step))
        return httpx.Response(202, json={"order_id": order_id, "step": step, "published": True})


@pytest.fixture
def kitchen() -> FakeKitchen:
    return FakeKitchen([ticket("order-new", 1), ticket("order-old", 20, mode="pickup")])


@pytest.fixture
def client(kitchen: FakeKitchen) -> Iterator[TestClient]:
    settings = Settings(CART_SECRET="test-secret", DATA_DIR=Path("/nonexistent"))
    app = create_app(
        settings,
        api_transport=FakeApi().transport(),
        kitchen_transport=httpx.MockTransport(kitchen.handle),
    )
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def test_the_kitchen_lists_orders_newest_first_with_their_next_step(client: TestClient) -> None:
    page = client.get(f"/kitchen/7?key={KEY}")
    assert page.status_code == 200
    html = page.text
    assert html.index("order-ne") < html.index("order-ol")
    assert "Delivery" in html and "Pickup" in html and "to 1 Herzl St" in html
    assert '<span class="quantity">2 \u00d7</span> Hummus' in html
    assert html.count(">Accept</button>") == 2
    assert 'data-live-events="/kitchen/7/events?key=good-key"' in html


def test_a_customer_without_the_key_cannot_open_a_kitchen(client: TestClient) -> None:
    for url in ("/kitchen/7", "/kitchen/7?key=guess", f"/kitchen/8?key={KEY}"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "This kitchen link isn't valid" in response.text
    assert client.get("/kitchen/7/events?key=guess").status_code == 403


def test_presses_go_to_the_kitchen_and_come_back_to_the_screen(
    client: TestClient, kitchen: FakeKitchen
) -> None:
    html = client.get(f"/kitchen/7?key={KEY}").text
    form = {"csrf_token": csrf_of(html), "key": KEY, "step": "accepted"}
    url = "/kitchen/7/orders/order-new/steps"
    assert client.post(url, data={**form, "csrf_token": "forged"}).status_code == 403
    pressed = client.post(url, data=form)
    assert pressed.status_code == 303 and pressed.headers["location"] == f"/kitchen/7?key={KEY}"
    assert kitchen.presses == [("order-new", "accepted")]
    fragment = client.post(url, data={**form, "step": "ready"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert ">Out for delivery</button>" in fragment.text
    refused = client.post("/kitchen/7/orders/order-old/steps", data={**form, "step": "ready"})
    assert refused.status_code == 303 and "notice=step" in refused.headers["location"]
    shown = client.get(refused.headers["location"]).text
    assert "ready comes after accepted" in shown


def test_the_tickets_fragment_answers_204_until_something_changes(
    client: TestClient, kitchen: FakeKitchen
) -> None:
    first = client.get(f"/kitchen/7/tickets?key={KEY}")
    version = re.search(r'data-version="([0-9a-f]+)"', first.text)
    assert first.status_code == 200 and version
    since = f"/kitchen/7/tickets?key={KEY}&since={version.group(1)}"
    assert client.get(since).status_code == 204
    kitchen.tickets.insert(0, ticket("order-newer", 0))
    assert client.get(since).status_code == 200


def test_an_event_carries_every_line_and_its_version() -> None:
    assert sse_event("update", "<p>\nhi</p>", "v2") == (
        "event: update\nid: v2\ndata: <p>\ndata: hi</p>\n\n"
    )


class OpenRequest:
    async def is_disconnected(self) -> bool:
        return False


def test_a_stream_sends_each_change_once_and_ends_when_final(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live, "CHECK_SECONDS", 0)
    states = iter(
        [
            Snapshot("pending", "P"),
            None,  # the api away for a moment
            Snapshot("pending", "P"),
            Snapshot("confirmed", "C"),
            Snapshot("confirmed.ready", "R", final=True),
        ]
    )

    async def current() -> Snapshot | None:
        return next(states)

    async def collect() -> list[str]:
        return [text async for text in snapshots(OpenRequest(), current, since="")]  # type: ignore[arg-type]

    events = asyncio.run(collect())
    assert events[0].startswith("retry:")
    assert [e.split("data: ")[1].split("\n")[0] for e in events[1:-1]] == ["P", "C", "R"]
    assert events[-1].startswith("event: done")
