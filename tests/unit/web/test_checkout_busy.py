"""Checkout when the api is busy (503) or the customer too quick (429): plain words, nothing lost,
and the retry carries the same Idempotency-Key. The api is an in-memory stand-in."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kafka_restaurants.settings import Settings
from kafka_restaurants.web.app import create_app
from tests.unit.web.fake_api import FakeApi, restaurant
from tests.unit.web.test_pages import CARD, add_to_cart, checkout_data

HTMX = {"HX-Request": "true", "HX-Target": "main"}
BUSY_HTML = "We&#39;re very busy. Your card was not charged; try again in a few seconds."


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi(restaurants={1: restaurant(1, "Hummus Sababa")})


@pytest.fixture
def client(fake_api: FakeApi) -> Iterator[TestClient]:
    settings = Settings(CART_SECRET="test-secret", DATA_DIR=Path("/nonexistent"))
    app = create_app(settings, replica_name="web-test", api_transport=fake_api.transport())
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def token_of(html: str) -> str:
    match = re.search(r'name="checkout_token" value="([0-9a-f]{32})"', html)
    assert match, "the page has no checkout token"
    return match.group(1)


@pytest.mark.parametrize("status", [503, 429])
def test_a_busy_api_keeps_the_cart_fields_and_token_and_the_retry_places_one_order(
    client: TestClient, fake_api: FakeApi, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    add_to_cart(client, 1, 101, 2)
    data = checkout_data(client, name="Dana Levi", delivery_address="1 Herzl St")
    fake_api.refuse_next = [status]
    busy = client.post("/checkout", data=data)
    assert busy.status_code == status
    assert busy.headers["Retry-After"] == "2"  # 1500 ms, in whole seconds
    assert BUSY_HTML in busy.text
    assert 'role="alert"' in busy.text
    # The cart is untouched and the details the customer typed are still there...
    assert "cart" in client.cookies and "2 × Hummus" in busy.text  # noqa: RUF001
    assert 'value="Dana Levi"' in busy.text and "1 Herzl St" in busy.text
    # ...but never the card, in the page, a cookie or a log line.
    assert CARD not in busy.text and 'value="123"' not in busy.text
    assert all(CARD not in value for value in busy.headers.get_list("set-cookie"))
    assert CARD not in caplog.text
    # The same token rides along, so the retry is the same order to the api.
    assert token_of(busy.text) == data["checkout_token"]
    placed = client.post("/checkout", data=data)
    assert placed.status_code == 303 and placed.headers["location"] == "/orders/order-2"
    assert [key for _, key in fake_api.order_requests] == [data["checkout_token"]] * 2
    assert len(fake_api.orders) == 1


def test_htmx_swaps_in_only_the_notice_so_the_typed_card_stays(
    client: TestClient, fake_api: FakeApi
) -> None:
    add_to_cart(client, 1, 101)
    data = checkout_data(client)
    fake_api.refuse_next = [503]
    busy = client.post("/checkout", data=data, headers=HTMX)
    assert busy.status_code == 503
    assert busy.headers["HX-Retarget"] == "#checkout-notice"
    assert busy.headers["HX-Reselect"] == "#checkout-notice"
    assert busy.headers["HX-Reswap"] == "outerHTML"
    notice = re.search(r'<div id="checkout-notice">(.*?)</div>\s*</div>', busy.text, re.S)
    assert notice and BUSY_HTML in notice.group(1)
    # Placed: htmx would follow a redirect in the background; a full navigation is asked for.
    placed = client.post("/checkout", data=data, headers=HTMX)
    assert placed.status_code == 200
    assert placed.headers["HX-Redirect"] == "/orders/order-2"
    assert "cart" not in client.cookies
    # And a double click after that lands on the same order without asking the api again.
    again = client.post("/checkout", data=data, headers=HTMX)
    assert again.headers["HX-Redirect"] == "/orders/order-2"
    assert len(fake_api.order_requests) == 2


def test_an_error_page_for_the_checkout_form_is_a_whole_page(
    client: TestClient, fake_api: FakeApi
) -> None:
    add_to_cart(client, 1, 101)
    data = checkout_data(client)
    fake_api.down = True
    response = client.post("/checkout", data=data, headers=HTMX)
    assert response.status_code == 503
    # The form swaps a whole page's <main> in: the error must come as one, not as a fragment.
    assert '<main id="main"' in response.text and "The API is unavailable" in response.text


def test_a_key_that_already_placed_another_order_is_explained_and_replaced(
    client: TestClient, fake_api: FakeApi
) -> None:
    add_to_cart(client, 1, 101)
    data = checkout_data(client)
    fake_api.refuse_next = [409]
    response = client.post("/checkout", data=data)
    assert response.status_code == 422
    assert "may already have placed an order" in response.text
    assert token_of(response.text) != data["checkout_token"]


def test_the_browser_address_is_forwarded_for_the_api_rate_limit(
    client: TestClient, fake_api: FakeApi
) -> None:
    add_to_cart(client, 1, 101)
    # Whatever the browser claims is not passed on: the web sets the header itself.
    client.post("/checkout", data=checkout_data(client), headers={"X-Forwarded-For": "6.6.6.6"})
    assert fake_api.forwarded_for == ["testclient"]
