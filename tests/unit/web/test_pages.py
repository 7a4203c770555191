"""The web app against an in-memory api: escaping, CSRF, errors, cart and checkout flows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kafka_restaurants.settings import Settings
from kafka_restaurants.web.app import create_app
from tests.unit.web.fake_api import FakeApi, restaurant

CARD = "4242424242424242"
XSS = "<script>alert('x')</script>"


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi(
        restaurants={
            1: restaurant(1, "Hummus Sababa"),
            2: restaurant(2, "Pickup Place", delivery=False),
            3: restaurant(3, f"{XSS} Diner", style=f"{XSS}style"),
        }
    )


@pytest.fixture
def client(fake_api: FakeApi) -> Iterator[TestClient]:
    settings = Settings(
        CART_SECRET="test-secret", DATA_DIR=Path("/nonexistent"), MAILBOX_ENABLED=True
    )
    app = create_app(settings, replica_name="web-test", api_transport=fake_api.transport())
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def add_to_cart(client: TestClient, restaurant_id: int, item_id: int, qty: int = 1, **extra: str):
    token = csrf_of(client.get(f"/restaurants/{restaurant_id}").text)
    data = {
        "csrf_token": token,
        "restaurant_id": str(restaurant_id),
        "menu_item_id": str(item_id),
        "quantity": str(qty),
        **extra,
    }
    return client.post("/cart/items", data=data)


def checkout_data(client: TestClient, **overrides: str) -> dict[str, str]:
    page = client.get("/checkout")
    assert page.status_code == 200, page.text
    token = re.search(r'name="checkout_token" value="([0-9a-f]{32})"', page.text)
    assert token
    data = {
        "csrf_token": csrf_of(page.text),
        "checkout_token": token.group(1),
        "name": "Dana",
        "email": "dana@example.com",
        "mode": "delivery",
        "delivery_address": "1 Herzl St",
        "card_number": CARD,
        "expiry": "04/29",
        "cvc": "123",
    }
    return {**data, **overrides}


def test_search_page_has_labelled_controls_and_security_headers(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    for label in ("Search restaurants", "Style", "Vegetarian", "Delivery"):
        assert re.search(rf"<label for=\"\w+\">{label}</label>", response.text), label
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"]
    assert headers["x-served-by"] == "web-test"
    assert "<title>" in response.text
    # No inline scripts or event handlers anywhere: the CSP would block them.
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)
    assert not re.search(r"\son[a-z]+=", response.text)


def test_script_in_query_and_catalog_renders_as_text(client: TestClient) -> None:
    response = client.get("/", params={"q": XSS + "nomatch"})
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;nomatch" in response.text
    assert "No restaurants match" in response.text

    listing = client.get("/", params={"q": "diner"})
    assert "&lt;script&gt;" in listing.text and "<script>alert" not in listing.text
    page = client.get("/restaurants/3")
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Diner" in page.text


def test_htmx_request_gets_only_the_results_fragment(client: TestClient) -> None:
    response = client.get("/", params={"q": "hummus"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Hummus Sababa" in response.text
    assert "1 restaurant" in response.text
    restore = client.get(
        "/",
        params={"q": "hummus"},
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.text


def test_unknown_restaurant_and_page_are_friendly_404s(client: TestClient) -> None:
    for path in ("/restaurants/999", "/restaurants/abc", "/no/such/page"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "couldn" in response.text and "<html" in response.text


def test_api_down_is_a_friendly_503(client: TestClient, fake_api: FakeApi) -> None:
    fake_api.down = True
    response = client.get("/")
    assert response.status_code == 503
    assert "The API is unavailable" in response.text
    assert "Traceback" not in response.text
    fragment = client.get("/", params={"q": "x"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 503 and "<html" not in fragment.text


def test_post_without_valid_csrf_token_is_rejected(client: TestClient) -> None:
    client.get("/restaurants/1")
    data = {"restaurant_id": "1", "menu_item_id": "101", "quantity": "1"}
    assert client.post("/cart/items", data=data).status_code == 403
    assert client.post("/cart/items", data={**data, "csrf_token": "0" * 64}).status_code == 403
    # A token from another browser (another CSRF cookie) is no good either.
    other = TestClient(client.app)
    stolen = csrf_of(other.get("/restaurants/1").text)
    assert client.post("/cart/items", data={**data, "csrf_token": stolen}).status_code == 403
    assert client.post("/checkout", data={"csrf_token": stolen}).status_code == 403
    assert client.get("/cart").text.count("Hummus") == 0


def test_add_to_cart_then_change_and_remove_lines(client: TestClient) -> None:
    response = add_to_cart(client, 1, 101, 2)
    assert response.status_code == 303
    assert response.headers["location"] == "/restaurants/1?added=101#item-101"
    page = client.get("/restaurants/1?added=101")
    assert "Added to your cart" in page.text and "₪84.00" in page.text
    add_to_cart(client, 1, 102, 1)
    cart = client.get("/cart").text
    assert "Hummus" in cart and "Lemonade" in cart and "₪96.00" in cart
    assert 'href="/checkout">Checkout</a>' in cart

    token = csrf_of(cart)
    client.post("/cart/lines/101", data={"csrf_token": token, "quantity": "3"})
    assert "₪138.00" in client.get("/cart").text
    client.post("/cart/lines/102/remove", data={"csrf_token": token})
    cart = client.get("/cart").text
    assert "Lemonade" not in cart and "₪126.00" in cart
    client.post("/cart/clear", data={"csrf_token": token})
    assert "Your cart is empty" in client.get("/cart").text


def test_tampered_cart_cookie_reads_as_empty(client: TestClient) -> None:
    add_to_cart(client, 1, 101, 2)
    value = client.cookies["cart"]
    client.cookies.set("cart", value[:-3] + "abc")
    assert "Your cart is empty" in client.get("/cart").text


def test_unavailable_item_is_not_added(client: TestClient) -> None:
    response = add_to_cart(client, 1, 103)
    assert response.headers["location"] == "/restaurants/1?notice=unavailable"
    assert "cart" not in client.cookies


def test_adding_from_another_restaurant_asks_first(client: TestClient) -> None:
    add_to_cart(client, 1, 101)
    response = add_to_cart(client, 2, 201)
    assert response.headers["location"] == "/restaurants/2?conflict=201&qty=1#item-201"
    page = client.get("/restaurants/2?conflict=201&qty=1").text
    assert "Your cart already has dishes from" in page and "Hummus Sababa" in page
    assert "Empty my cart and add this" in page
    assert "Hummus" in client.get("/cart").text  # unchanged until the user decides
    add_to_cart(client, 2, 201, start_over="1")
    cart = client.get("/cart").text
    assert "Pickup Place" in cart and "Hummus Sababa" not in cart


def test_checkout_places_one_order_and_shows_it(client: TestClient, fake_api: FakeApi) -> None:
    add_to_cart(client, 1, 101, 2)
    page = client.get("/checkout").text
    for label in ("Name", "Email", "Card number", "Expiry (MM/YY)", "CVC", "Delivery address"):
        assert f">{label}</label>" in page, label
    assert "Place order" in page
    data = checkout_data(client)
    response = client.post("/checkout", data=data)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/orders/order-1"
    body, key = fake_api.order_requests[0]
    assert key == data["checkout_token"]
    assert body["card"] == {"number": CARD, "exp_month": 4, "exp_year": 2029, "cvc": "123"}
    assert body["items"] == [{"menu_item_id": 101, "quantity": 2}]
    assert "cart" not in client.cookies  # emptied

    # The same form submitted again (double click, back + resubmit) places no second order.
    again = client.post("/checkout", data=data)
    assert again.status_code == 303 and again.headers["location"] == "/orders/order-1"
    assert len(fake_api.order_requests) == 1

    order = client.get("/orders/order-1")
    assert order.status_code == 200
    assert "Pending" in order.text and "₪84.00" in order.text and "ending 4242" in order.text
    assert 'data-live-events="/orders/order-1/events"' in order.text
    assert CARD not in order.text


def test_pickup_only_restaurant_sends_no_address(client: TestClient, fake_api: FakeApi) -> None:
    add_to_cart(client, 2, 201)
    page = client.get("/checkout").text
    assert "Delivery address" not in page and "doesn't deliver" in page
    client.post("/checkout", data=checkout_data(client))
    assert fake_api.order_requests[0][0]["delivery_address"] is None


def test_api_validation_errors_show_next_to_fields_without_echoing_the_card(
    client: TestClient, fake_api: FakeApi
) -> None:
    fake_api.reject_with = [
        {
            "loc": ["body", "card", "number"],
            "msg": "Value error, fails the Luhn check",
            "type": "value_error",
        },
        {
            "loc": ["body", "email"],
            "msg": "value is not a valid email address",
            "type": "value_error",
        },
    ]
    add_to_cart(client, 1, 101)
    data = checkout_data(client, card_number="4242424242424241", email="dana@", expiry="05/31")
    response = client.post("/checkout", data=data)
    assert response.status_code == 422
    html = response.text
    assert '<p class="field-error" id="card_number-error">Fails the Luhn check.</p>' in html
    assert 'id="email-error">Value is not a valid email address.</p>' in html
    assert 'aria-describedby="card_number-error"' in html
    assert "4242424242424241" not in html and 'value="123"' not in html and "05/31" not in html
    assert 'value="dana@"' in html and 'value="Dana"' in html  # safe fields are kept
    new_token = re.search(r'name="checkout_token" value="([0-9a-f]{32})"', html)
    assert new_token and new_token.group(1) != data["checkout_token"]


def test_bad_expiry_is_caught_before_calling_the_api(client: TestClient, fake_api: FakeApi) -> None:
    add_to_cart(client, 1, 101)
    response = client.post("/checkout", data=checkout_data(client, expiry="13/29"))
    assert response.status_code == 422
    assert 'id="expiry-error">Enter the expiry date as MM/YY' in response.text
    assert fake_api.order_requests == []


def test_api_timeout_during_checkout_keeps_the_token_for_a_safe_retry(
    client: TestClient, fake_api: FakeApi
) -> None:
    add_to_cart(client, 1, 101)
    data = checkout_data(client)
    fake_api.orders_time_out = True
    response = client.post("/checkout", data=data)
    assert response.status_code == 503
    assert "reach the ordering service" in response.text
    # The order may exist: the retry must carry the same idempotency token.
    assert f'name="checkout_token" value="{data["checkout_token"]}"' in response.text
    assert CARD not in response.text
    fake_api.orders_time_out = False
    assert client.post("/checkout", data=data).status_code == 303
    assert [key for _, key in fake_api.order_requests] == [data["checkout_token"]]


def test_restaurant_lookup_failing_at_checkout_is_a_friendly_503(
    client: TestClient, fake_api: FakeApi
) -> None:
    add_to_cart(client, 1, 101)
    data = checkout_data(client)
    fake_api.down = True
    response = client.post("/checkout", data=data)
    assert response.status_code == 503 and "The API is unavailable" in response.text


def test_order_status_fragment_polls_until_terminal(client: TestClient, fake_api: FakeApi) -> None:
    add_to_cart(client, 1, 101)
    client.post("/checkout", data=checkout_data(client))
    url = "/orders/order-1/status?since=pending"
    assert client.get(url).status_code == 204
    fake_api.orders["order-1"].update(status="declined", decline_code="insufficient_funds")
    response = client.get(url)
    assert response.status_code == 286  # htmx stops polling
    assert "Declined" in response.text and "enough funds" in response.text
    assert "<html" not in response.text
    fake_api.down = True
    assert client.get(url).status_code == 204  # a blip keeps the page polling


def test_confirmed_order_links_the_dev_inbox(client: TestClient, fake_api: FakeApi) -> None:
    add_to_cart(client, 1, 101)
    client.post("/checkout", data=checkout_data(client))
    fake_api.orders["order-1"]["status"] = "confirmed"
    page = client.get("/orders/order-1").text
    assert "Confirmed" in page and "Open the development inbox" in page
    # Still followed: the kitchen's steps come next.
    assert 'data-live-events="/orders/order-1/events"' in page
    fake_api.orders["order-1"]["step"] = "out_for_delivery"
    page = client.get("/orders/order-1").text
    assert "Out for delivery" in page and "on its way to 1 Herzl St" in page
    assert "data-live-events" not in page  # nothing more happens to it


def test_unknown_order_is_404(client: TestClient) -> None:
    assert client.get("/orders/nope").status_code == 404
    assert client.get("/orders/..%2F..%2Fetc").status_code == 404


def test_declined_order_puts_its_items_back_in_the_cart_for_another_card(
    client: TestClient, fake_api: FakeApi
) -> None:
    add_to_cart(client, 1, 101, 2)
    add_to_cart(client, 1, 102, 1)
    client.post("/checkout", data=checkout_data(client))
    assert "cart" not in client.cookies  # placing the order emptied it
    fake_api.orders["order-1"].update(status="declined", decline_code="card_declined")
    page = client.get("/orders/order-1").text
    assert "Try again with another card" in page
    assert client.post("/orders/order-1/retry", data={}).status_code == 403  # CSRF still applies
    response = client.post("/orders/order-1/retry", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 303 and response.headers["location"] == "/checkout"
    cart = client.get("/cart").text
    assert "₪96.00" in cart  # 2 x 42.00 + 1 x 12.00, priced from the menu again
    checkout = client.get("/checkout").text
    assert "Place order" in checkout and CARD not in checkout  # the card is typed again


def test_a_failed_order_says_why_in_the_apis_words(client: TestClient, fake_api: FakeApi) -> None:
    add_to_cart(client, 1, 101)
    client.post("/checkout", data=checkout_data(client))
    reason = "We couldn't process your payment. You were not charged."
    fake_api.orders["order-1"].update(
        status="failed", decline_code="payment_failed", decline_reason=reason
    )
    page = client.get("/orders/order-1").text
    assert "Failed" in page and reason.replace("'", "&#39;") in page
    fake_api.orders["order-1"]["decline_reason"] = None
    assert "problem on our side" in client.get("/orders/order-1").text


def test_retry_is_offered_only_for_declined_orders(client: TestClient, fake_api: FakeApi) -> None:
    add_to_cart(client, 1, 101)
    client.post("/checkout", data=checkout_data(client))
    assert "Try again with another card" not in client.get("/orders/order-1").text
    fake_api.orders["order-1"]["status"] = "confirmed"
    assert "Try again with another card" not in client.get("/orders/order-1").text
