"""Locust users who browse, search (with typos), open restaurants and order, like people do.

Against a deployed system (defaults: the local `make run`):

    .venv/bin/locust -f bench/locustfile.py --host http://127.0.0.1:8088 WebCustomer
    .venv/bin/locust -f bench/locustfile.py --host http://127.0.0.1:5000 ApiCustomer
    .venv/bin/locust -f bench/locustfile.py        # both, hosts from WEB_HOST and API_HOST

then open http://127.0.0.1:8089. `--headless -u 50 -r 5 -t 2m` runs without the UI.
`WebCustomer` goes through the website (load balancer, cart cookie, CSRF, checkout form);
`ApiCustomer` uses the JSON API the website calls. Orders use the test card that succeeds,
except one in twenty which uses the one that is declined.
"""

from __future__ import annotations

import os
import random
import re
import time
import uuid
from typing import Any

from locust import HttpUser, between, task

from kafka_restaurants.bench.search_load import make_typo

WORDS = [
    "pizza",
    "hummus",
    "shawarma",
    "falafel",
    "sushi",
    "ramen",
    "pad thai",
    "curry",
    "burger",
    "khachapuri",
    "tacos",
    "pho",
    "injera",
    "couscous",
    "croissant",
    "salad",
    "shakshuka",
    "dumplings",
    "bibimbap",
    "fish",
    "vegan",
    "italian",
    "thai",
    "georgian",
    "ethiopian",
]
STYLES = ["Italian", "Japanese", "Thai", "Israeli", "Georgian", "Mexican", "Vegan", "Indian"]
SUCCEEDS, DECLINED = "4242424242424242", "4000000000000002"
_HIDDEN = re.compile(r'name="(csrf_token|checkout_token)"\s+value="([^"]*)"')
_ADD_FORM = re.compile(r'name="menu_item_id"\s+value="(\d+)"')
_RESTAURANT_LINK = re.compile(r'href="/restaurants/(\d+)"')


def search_words() -> str:
    """What someone types: a dish or a style, one time in four with a slip of the finger."""
    word = random.choice(WORDS)
    return make_typo(word, random.Random()) if random.random() < 0.25 else word


def card() -> str:
    return DECLINED if random.random() < 0.05 else SUCCEEDS


def hidden_fields(html: str) -> dict[str, str]:
    return dict(_HIDDEN.findall(html))


class ApiCustomer(HttpUser):
    """Searches and orders through the JSON API, then follows the order until it settles."""

    host = os.environ.get("API_HOST", "http://127.0.0.1:5000")
    wait_time = between(1, 4)

    def _search(self) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"q": search_words(), "limit": 20}
        if random.random() < 0.3:
            params["vegetarian"] = "true"
        if random.random() < 0.3:
            params["delivery"] = "true"
        with self.client.get("/search", params=params, name="/search?q", catch_response=True) as r:
            return r.json() if r.status_code == 200 else []

    @task(5)
    def browse(self) -> None:
        style = random.choice(STYLES)
        offset = random.choice((0, 0, 20, 40))
        self.client.get(
            "/search",
            params={"restaurant_style": style, "limit": 20, "offset": offset},
            name="/search?restaurant_style",
        )

    @task(5)
    def search_and_look(self) -> None:
        for restaurant in self._search()[:2]:
            self.client.get(f"/restaurants/{restaurant['id']}", name="/restaurants/{id}")

    @task(2)
    def order(self) -> None:
        found = self._search()
        if not found:
            return
        restaurant = self.client.get(
            f"/restaurants/{random.choice(found)['id']}", name="/restaurants/{id}"
        ).json()
        dishes = [item["id"] for item in restaurant["menu"] if item["available"]]
        if not dishes:
            return
        body: dict[str, Any] = {
            "restaurant_id": restaurant["id"],
            "items": [
                {"menu_item_id": i, "quantity": random.randint(1, 2)}
                for i in random.sample(dishes, min(len(dishes), random.randint(1, 3)))
            ],
            "email": f"locust-{uuid.uuid4().hex[:10]}@example.com",
            "name": "Locust Customer",
            "card": {"number": card(), "exp_month": 12, "exp_year": 2035, "cvc": "123"},
        }
        if restaurant["delivery"]:
            body["delivery_address"] = "Rothschild Blvd 1, Tel Aviv"
        placed = self.client.post(
            "/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        if placed.status_code != 202:
            return
        order_id = placed.json()["order_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # people watch the order page until it settles
            status = self.client.get(f"/orders/{order_id}", name="/orders/{id}").json()["status"]
            if status != "pending":
                return
            time.sleep(1)


class WebCustomer(HttpUser):
    """Uses the website: search page, restaurant pages, cart, checkout, order page."""

    host = os.environ.get("WEB_HOST", "http://127.0.0.1:8088")
    wait_time = between(2, 6)

    def _search_page(self) -> list[str]:
        params = {"q": search_words()}
        if random.random() < 0.3:
            params["vegetarian"] = "on"
        page = self.client.get("/", params=params, name="/?q")
        return _RESTAURANT_LINK.findall(page.text)

    @task(6)
    def browse(self) -> None:
        page = self.client.get("/", params={"style": random.choice(STYLES)}, name="/?style")
        for restaurant_id in _RESTAURANT_LINK.findall(page.text)[:1]:
            self.client.get(f"/restaurants/{restaurant_id}", name="/restaurants/{id}")

    @task(4)
    def search_and_look(self) -> None:
        for restaurant_id in self._search_page()[:2]:
            self.client.get(f"/restaurants/{restaurant_id}", name="/restaurants/{id}")

    @task(1)
    def order(self) -> None:
        ids = self._search_page()
        if not ids:
            return
        restaurant_id = random.choice(ids)
        page = self.client.get(f"/restaurants/{restaurant_id}", name="/restaurants/{id}").text
        dishes = _ADD_FORM.findall(page)
        csrf = hidden_fields(page).get("csrf_token")
        if not dishes or not csrf:
            return
        self.client.post(
            "/cart/items",
            data={
                "restaurant_id": restaurant_id,
                "menu_item_id": random.choice(dishes),
                "quantity": "1",
                "start_over": "1",
                "csrf_token": csrf,
            },
            name="/cart/items",
        )
        checkout = self.client.get("/checkout", name="/checkout").text
        fields = hidden_fields(checkout)
        if "checkout_token" not in fields:
            return
        placed = self.client.post(
            "/checkout",
            data={
                **fields,
                "name": "Locust Customer",
                "email": f"locust-{uuid.uuid4().hex[:10]}@example.com",
                "mode": "delivery",
                "delivery_address": "Rothschild Blvd 1, Tel Aviv",
                "card_number": card(),
                "expiry": "12/35",
                "cvc": "123",
            },
            name="/checkout (place order)",
        )
        order_path = placed.url.split("?")[0] if placed.url else ""
        if "/orders/" in order_path:
            self.client.get(f"{order_path}/status", name="/orders/{id}/status")
