"""Orders end to end: open-loop POSTs on a clock, the mailbox watched for each confirmation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from random import Random
from typing import Any

import httpx

from kafka_restaurants.bench.rawhttp import ConnectionPool
from kafka_restaurants.bench.stats import REFUSED_STATUSES, refusal_reason

SUCCEEDS = "4242424242424242"
DECLINED = "4000000000000002"


# A kept-alive connection the server closes just as we reuse it; safe to retry, unlike a timeout.
RETRYABLE = (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


async def send_retrying(
    client: httpx.AsyncClient, method: str, url: str, attempts: int = 3, **kwargs: Any
) -> httpx.Response:
    """One request, retried on a dropped connection (never on a timeout)."""
    for attempt in range(attempts):
        try:
            return await client.request(method, url, **kwargs)
        except RETRYABLE:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class MenuChoice:
    restaurant_id: int
    menu_item_ids: tuple[int, ...]
    delivers: bool


@dataclass
class PlacedOrder:
    """One POST /orders: when it was due, what came back, and where its email should go."""

    seq: int
    email: str
    expect_confirmed: bool
    due: float  # wall-clock time the schedule said to send it
    answered: float = 0.0
    status_code: int = 0
    order_id: str = ""
    error: str = ""
    reason: str = ""  # why a 503 or 429 refused it (the body's `reason`)

    @property
    def accepted(self) -> bool:
        return self.status_code == 202 and bool(self.order_id)


@dataclass
class SeenEmail:
    created: float  # when the mailbox stored it (its own clock: same machine)
    observed: float  # when the poller first saw it


class Mailbox:
    """Pages through the mailbox API newest first and remembers every message once."""

    def __init__(
        self, client: httpx.AsyncClient, domain: str, first_page: int = 50, max_page: int = 1000
    ) -> None:
        self.client = client
        self.domain = domain.lower()
        # Small first pages keep frequent polls cheap for the mailbox (part of the system under
        # test) and for us; pages grow while every message on them is new.
        self.first_page = first_page
        self.max_page = max_page
        self.seen_ids: set[str] = set()
        self.by_address: dict[str, list[SeenEmail]] = {}
        self.polls = 0

    async def poll(self) -> int:
        """Fetch messages newer than the last poll; returns how many were new."""
        self.polls += 1
        new = 0
        start = 0
        page_size = self.first_page
        now = time.time()
        # Mail arriving between two page requests shifts the listing, so a later page can
        # repeat messages from an earlier page of this same poll. Only a message known from an
        # earlier poll marks where the new ones end.
        this_poll: set[str] = set()
        while True:
            response = await send_retrying(
                self.client,
                "GET",
                "/api/v1/messages",
                params={"start": start, "limit": page_size},
            )
            response.raise_for_status()
            messages = response.json()["messages"]
            reached_known = False
            for message in messages:
                if message["ID"] in self.seen_ids:
                    if message["ID"] not in this_poll:
                        reached_known = True  # newest first: everything older was seen before
                    continue
                self.seen_ids.add(message["ID"])
                this_poll.add(message["ID"])
                new += 1
                created = datetime.fromisoformat(message["Created"].replace("Z", "+00:00"))
                for to in message.get("To") or []:
                    address = to["Address"].lower()
                    if address.endswith(self.domain):
                        self.by_address.setdefault(address, []).append(
                            SeenEmail(created.timestamp(), now)
                        )
            if reached_known or len(messages) < page_size:
                return new
            start += len(messages)
            page_size = min(self.max_page, page_size * 4)

    def count(self, address: str) -> int:
        return len(self.by_address.get(address.lower(), ()))

    def first(self, address: str) -> SeenEmail | None:
        found = self.by_address.get(address.lower())
        return found[0] if found else None


async def load_menu_choices(
    client: httpx.AsyncClient, catalog_size: int, rng: Random, count: int = 40
) -> list[MenuChoice]:
    """Restaurants spread over the catalog with the ids of dishes one can order there."""
    choices: list[MenuChoice] = []
    for restaurant_id in rng.sample(range(1, catalog_size + 1), min(count, catalog_size)):
        response = await client.get(f"/restaurants/{restaurant_id}")
        if response.status_code != 200:
            continue
        detail = response.json()
        items = tuple(i["id"] for i in detail["menu"] if i.get("available", True))
        if items:
            choices.append(MenuChoice(restaurant_id, items, bool(detail["delivery"])))
    if not choices:
        raise RuntimeError("no orderable restaurants found in the catalog under test")
    return choices


def order_body(order: PlacedOrder, choice: MenuChoice, rng: Random) -> dict[str, object]:
    """A believable order: one to three dishes, delivered where the restaurant delivers."""
    items = rng.sample(choice.menu_item_ids, min(len(choice.menu_item_ids), rng.randint(1, 3)))
    body: dict[str, object] = {
        "restaurant_id": choice.restaurant_id,
        "items": [{"menu_item_id": i, "quantity": rng.randint(1, 3)} for i in items],
        "email": order.email,
        "name": f"Bench Customer {order.seq}",
        "fulfilment": "delivery" if choice.delivers else "pickup",
        "card": {
            "number": SUCCEEDS if order.expect_confirmed else DECLINED,
            "exp_month": 12,
            "exp_year": 2035,
            "cvc": "123",
        },
    }
    if choice.delivers:
        body["delivery_address"] = f"Rothschild Blvd {order.seq % 200 + 1}, Tel Aviv"
    return body


@dataclass
class OrderStep:
    """One open-loop step: every order it placed and when the step began and ended."""

    label: str
    rate: float
    seconds: float
    orders: list[PlacedOrder] = field(default_factory=list)
    started: float = 0.0
    last_sent: float = 0.0
    send_lag_ms: list[float] = field(default_factory=list)  # how late the generator was

    @property
    def achieved_rate(self) -> float:
        # n orders on time span (n - 1) intervals; a late generator stretches the span.
        span = self.last_sent - self.started
        if len(self.orders) < 2 or span <= 0:
            return self.rate
        return (len(self.orders) - 1) / span


class OrderDriver:
    """Places orders on a clock and keeps every order it ever placed, for the audit."""

    def __init__(
        self,
        api: ConnectionPool,
        choices: Sequence[MenuChoice],
        run_tag: str,
        decline_every: int,
        domain: str = "bench.example.com",
    ) -> None:
        self.api = api
        self.choices = choices
        self.run_tag = run_tag
        self.decline_every = decline_every
        self.domain = domain
        self.rng = Random(11)
        self.all_orders: list[PlacedOrder] = []
        self.in_flight = 0

    def _next_order(self, due: float) -> PlacedOrder:
        seq = len(self.all_orders)
        confirmed = self.decline_every <= 0 or seq % self.decline_every != self.decline_every - 1
        order = PlacedOrder(seq, f"o{seq}-{self.run_tag}@{self.domain}", confirmed, due)
        self.all_orders.append(order)
        return order

    async def _post(self, order: PlacedOrder, step: OrderStep) -> None:
        body = order_body(order, self.rng.choice(self.choices), self.rng)
        # Like a careful client: an idempotency key, so a retry after a dropped kept-alive
        # connection can never place the order twice.
        headers = {"Idempotency-Key": f"bench-{self.run_tag}-{order.seq}"}
        self.in_flight += 1
        try:
            reply = await self.api.request("POST", "/orders", json_body=body, headers=headers)
            order.status_code = reply.status
            if reply.status == 202:
                order.order_id = reply.json()["order_id"]
            else:
                text = reply.text
                order.error = text[:200]
                if reply.status in REFUSED_STATUSES:
                    order.reason = refusal_reason(reply.status, text)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            order.error = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            self.in_flight -= 1
            order.answered = time.time()

    async def run_step(self, label: str, rate: float, seconds: float) -> OrderStep:
        """Send round(rate * seconds) orders, each at its due time however slow answers are."""
        step = OrderStep(label, rate, seconds)
        planned = max(1, round(rate * seconds))
        tasks: list[asyncio.Task[None]] = []
        clock = time.perf_counter()
        wall = time.time()
        step.started = wall
        sent = 0
        while sent < planned:
            elapsed = time.perf_counter() - clock
            due_now = min(planned, int(elapsed * rate) + 1)
            while sent < due_now:
                due = wall + sent / rate
                order = self._next_order(due)
                step.orders.append(order)
                step.send_lag_ms.append(max(0.0, (time.time() - due) * 1000))
                tasks.append(asyncio.create_task(self._post(order, step)))
                sent += 1
            step.last_sent = time.time()
            await asyncio.sleep(max(0.0, sent / rate - (time.perf_counter() - clock)))
        await asyncio.gather(*tasks)
        return step
