"""The web app against the real api (real SQLite catalog, real HTTP between them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kafka_restaurants.settings import Settings
from kafka_restaurants.web.app import create_app
from tests.fixtures.components import free_port
from tests.integration.web.conftest import RunningServer


def web_settings(api_url: str, data_dir: Path) -> Settings:
    return Settings.model_validate({"API_URL": api_url, "DATA_DIR": str(data_dir)})


@pytest.fixture
def web(real_api: RunningServer, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(web_settings(real_api.url, tmp_path), replica_name="web-it")
    with TestClient(app, follow_redirects=False) as client:
        yield client


def first(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, f"no match for {pattern}"
    return match.group(1)


def card_names(html: str) -> list[str]:
    return re.findall(r'<h2 class="card-title"><a href="/restaurants/\d+">([^<]+)</a>', html)


def test_search_by_text_and_filters(web: TestClient) -> None:
    page = web.get("/", params={"q": "hummus"})
    assert page.status_code == 200
    assert "Hummus Sababa" in card_names(page.text)
    assert '<option value="Israeli"' in page.text  # styles come from the api

    veg = web.get("/", params={"vegetarian": "true", "delivery": "true"}).text
    names = card_names(veg)
    assert names and "Sabich" in names and "Hummus Sababa" not in names  # not veg, no delivery
    assert "Vegetarian" in veg and "Delivers" in veg

    chinese = card_names(web.get("/", params={"style": "Chinese"}).text)
    assert chinese and "China town" in chinese and "Sabich" not in chinese


def test_seed_style_query_and_empty_state(web: TestClient) -> None:
    fragment = web.get("/", params={"q": "<script>zzqx"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "No restaurants match" in fragment.text
    assert "&lt;script&gt;zzqx" in fragment.text and "<script>zzqx" not in fragment.text


def test_pagination_follows_the_total_count(web: TestClient) -> None:
    first_page = web.get("/").text
    total = int(first(r"(\d+) restaurants", first_page))
    assert total >= 50  # the hand-written catalog
    assert "Next page" in first_page and len(card_names(first_page)) == 12
    last_page = (total + 11) // 12
    last = web.get("/", params={"page": str(last_page)}).text
    assert "Previous page" in last and "Next page" not in last
    assert len(card_names(last)) == total - 12 * (last_page - 1)


def test_restaurant_menu_and_cart_with_real_ids(web: TestClient) -> None:
    search = web.get("/", params={"q": "Hummus Sababa"}).text
    restaurant_id = first(r'href="/restaurants/(\d+)">Hummus Sababa<', search)
    page = web.get(f"/restaurants/{restaurant_id}")
    assert page.status_code == 200
    assert "<title>Hummus Sababa · Kafka Restaurants</title>" in page.text
    assert ">Mains</h3>" in page.text and ">Drinks</h3>" in page.text
    assert "₪28.00" in page.text  # Hummus Tahini, 2800 ILS
    assert "Not available today" in page.text  # the lamb is off today
    item_id = first(r'id="item-(\d+)"', page.text)
    token = first(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    added = web.post(
        "/cart/items",
        data={
            "csrf_token": token,
            "restaurant_id": restaurant_id,
            "menu_item_id": item_id,
            "quantity": "2",
        },
    )
    assert added.status_code == 303
    cart = web.get("/cart").text
    assert "Hummus Tahini" in cart and "₪56.00" in cart
    assert web.get("/checkout").status_code == 200


def test_unknown_restaurant_is_404(web: TestClient) -> None:
    response = web.get("/restaurants/987654")
    assert response.status_code == 404 and "couldn" in response.text


def test_api_down_gives_the_503_page(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with TestClient(create_app(web_settings(dead, tmp_path))) as client:
        response = client.get("/")
    assert response.status_code == 503
    assert "The API is unavailable" in response.text


def fill_cart(web: TestClient, name: str = "Sabich") -> str:
    """Put two dishes from `name` in the cart; returns the checkout page."""
    search = web.get("/", params={"q": name}).text
    restaurant_id = first(rf'href="/restaurants/(\d+)">{name}<', search)
    page = web.get(f"/restaurants/{restaurant_id}").text
    token = first(r'name="csrf_token" value="([0-9a-f]+)"', page)
    for item_id in re.findall(r'name="menu_item_id" value="(\d+)"', page)[:2]:
        form = {"restaurant_id": restaurant_id, "menu_item_id": item_id, "quantity": "1"}
        assert web.post("/cart/items", data={"csrf_token": token, **form}).status_code == 303
    checkout = web.get("/checkout")
    assert checkout.status_code == 200
    return checkout.text


def checkout_form(page: str, **overrides: str) -> dict[str, str]:
    return {
        "csrf_token": first(r'name="csrf_token" value="([0-9a-f]+)"', page),
        "checkout_token": first(r'name="checkout_token" value="([0-9a-f]+)"', page),
        "name": "Dana Levi",
        "email": "dana@example.com",
        "mode": "delivery",
        "delivery_address": "1 Herzl St, Tel Aviv",
        "card_number": "4242 4242 4242 4242",
        "expiry": "12/30",
        "cvc": "123",
        **overrides,
    }


def test_checkout_places_an_order_once_and_shows_it_pending(web: TestClient) -> None:
    data = checkout_form(fill_cart(web))
    placed = web.post("/checkout", data=data)
    assert placed.status_code == 303, placed.text
    order_url = placed.headers["location"]
    again = web.post("/checkout", data=data)  # a resubmitted form
    assert again.headers["location"] == order_url
    order = web.get(order_url)
    assert order.status_code == 200
    assert "Pending" in order.text and "Sabich" in order.text
    assert "ending 4242" in order.text and "4242424242424242" not in order.text
    order_id = order_url.rsplit("/", 1)[1]
    assert web.get(f"/orders/{order_id}/status?since=pending").status_code == 204


def test_api_validation_errors_land_next_to_their_fields(web: TestClient) -> None:
    page = fill_cart(web)
    response = web.post("/checkout", data=checkout_form(page, card_number="4242424242424241"))
    assert response.status_code == 422, response.text
    assert 'id="card_number-error"' in response.text
    assert "4242424242424241" not in response.text
    response = web.post("/checkout", data=checkout_form(page, email="not-an-email"))
    assert response.status_code == 422
    assert 'id="email-error"' in response.text and 'value="not-an-email"' in response.text


def test_unknown_or_malformed_order_is_404(web: TestClient) -> None:
    assert web.get("/orders/00000000-0000-4000-8000-000000000000").status_code == 404
    assert web.get("/orders/not-a-uuid").status_code == 404
