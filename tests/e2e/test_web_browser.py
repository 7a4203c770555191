"""The website in a real headless Chromium, against the whole running system."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    expect,
    sync_playwright,
)
from sqlalchemy import func, select, update

from kafka_restaurants.api.app import create_app as create_api_app
from kafka_restaurants.api.seed import seed_catalog
from kafka_restaurants.api.tables import Order, OutboxRecord
from kafka_restaurants.bank.app import create_app as create_bank_app
from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.settings import Settings
from kafka_restaurants.web.app import create_app as create_web_app
from tests.e2e.browser import (
    APPROVED_CARD,
    DECLINED_CARD,
    DESKTOP,
    PHONE,
    PlacedOrder,
    add_two_dishes,
    assert_no_horizontal_scroll,
    assert_not_reloaded,
    capture,
    fill_checkout,
    launch_chromium,
    mark_page,
    messages_to,
    search_and_open_restaurant,
    unique_email,
)
from tests.e2e.conftest import RunningSystem
from tests.fixtures.bank import API_KEY, BANK_KEYS
from tests.fixtures.components import free_port, wait_for


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


class Watched:
    """A page plus what it said that a person would notice: dialogs and console errors."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _on_console(self, message: ConsoleMessage) -> None:
        # CSP violations and script errors show up here.
        # A checkout form with errors is answered 422 on purpose; Chromium logs that.
        if message.type == "error" and "status of 422" not in message.text:
            self.console_errors.append(message.text)


def _watched(browser: Browser, system: RunningSystem, phone: bool) -> Iterator[Watched]:
    context = browser.new_context(
        base_url=system.web,
        viewport=PHONE if phone else DESKTOP,
        is_mobile=phone,
        has_touch=phone,
    )
    context.set_default_timeout(15_000)
    watched = Watched(context.new_page())
    yield watched
    context.close()
    assert watched.dialogs == [], f"dialogs fired: {watched.dialogs}"
    assert watched.console_errors == [], f"console errors: {watched.console_errors}"


@pytest.fixture
def desktop(browser: Browser, system: RunningSystem) -> Iterator[Watched]:
    yield from _watched(browser, system, phone=False)


@pytest.fixture
def phone(browser: Browser, system: RunningSystem) -> Iterator[Watched]:
    yield from _watched(browser, system, phone=True)


def _go_to_checkout(page: Page, system: RunningSystem, *, screenshots: bool) -> None:
    search_and_open_restaurant(page, system.web)
    add_two_dishes(page)
    if screenshots:
        capture(page, "restaurant")
    page.get_by_role("link", name="View cart").click()
    expect(page.get_by_role("heading", level=1, name="Your cart")).to_be_visible()
    expect(page.get_by_label("Quantity of Pizza Margherita")).to_have_value("2")
    expect(page.get_by_label("Quantity of Pizza Funghi")).to_have_value("1")
    if screenshots:
        capture(page, "cart")
    page.get_by_role("link", name="Checkout").click()
    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    expect(
        page.get_by_role("region", name=re.compile("Your order from Amore Mio"))
    ).to_contain_text("2 × Pizza Margherita")  # noqa: RUF001 (the page's multiplication sign)


def test_order_with_approved_card_confirms_live_and_mails(
    desktop: Watched, system: RunningSystem
) -> None:
    page = desktop.page
    page.goto("/?q=piza")
    expect(page.get_by_role("link", name="pizza Makpiza")).to_be_visible()
    capture(page, "search")

    _go_to_checkout(page, system, screenshots=True)
    email = unique_email("browser-approved")
    fill_checkout(page, email=email, card=APPROVED_CARD)
    capture(page, "checkout")
    order = PlacedOrder(page)
    order.expect_settles_live("Confirmed")
    order_id = order.order_id
    expect(page.get_by_text(f"A confirmation email is on its way to {email}")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Pizza Margherita"))).to_contain_text("2 ×")  # noqa: RUF001
    capture(page, "order-confirmed")

    wait_for(lambda: messages_to(system.mailbox, email), timeout=60, what="confirmation email")
    [message] = messages_to(system.mailbox, email)
    assert order_id[:8] in message["Subject"]
    full = httpx.get(f"{system.mailbox}/api/v1/message/{message['ID']}").json()
    assert "Pizza Margherita" in full["Text"]


def test_order_with_declining_card_says_why_on_a_phone(
    phone: Watched, system: RunningSystem
) -> None:
    page = phone.page
    _go_to_checkout(page, system, screenshots=False)
    assert_no_horizontal_scroll(page)
    fill_checkout(page, email=unique_email("browser-declined"), card=DECLINED_CARD)
    order = PlacedOrder(page)
    order.expect_settles_live("Declined")
    expect(page.get_by_text("Your bank declined the card.")).to_be_visible()
    expect(page.get_by_text("No money was taken")).to_be_visible()
    assert_no_horizontal_scroll(page)
    capture(page, "order-declined")

    # The same dishes come back for another card: nothing to pick again.
    page.get_by_role("button", name="Try again with another card").click()
    expect(page.get_by_role("button", name="Place order")).to_be_visible()
    expect(
        page.get_by_role("region", name=re.compile("Your order from Amore Mio"))
    ).to_contain_text("2 × Pizza Margherita")  # noqa: RUF001
    expect(page.get_by_label("Card number")).to_have_value("")
    fill_checkout(page, email=unique_email("browser-retried"), card=APPROVED_CARD)
    PlacedOrder(page).expect_settles_live("Confirmed")


def _expect_error_next_to(page: Page, label: str, says: re.Pattern[str]) -> None:
    """The field is marked invalid, and its own error text sits in its box and describes it."""
    field = page.get_by_label(label, exact=True)
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field").filter(has=field).locator(".field-error")).to_have_text(says)
    expect(field).to_have_accessible_description(says)


def test_checkout_shows_errors_next_to_their_fields(
    desktop: Watched, system: RunningSystem
) -> None:
    page = desktop.page
    _go_to_checkout(page, system, screenshots=False)
    bad_card = "4242 4242 4242 4241"  # fails the Luhn check at the api

    # The browser refuses an address without "@" before anything is sent.
    fill_checkout(page, email="dana-at-example.com", card=bad_card)
    mark_page(page)
    page.get_by_role("button", name="Place order").click()
    email = page.get_by_label("Email")
    assert email.evaluate("input => input.validity.typeMismatch && !!input.validationMessage")
    expect(page.get_by_role("alert")).to_have_count(0)
    assert_not_reloaded(page)

    # The api's 422 for the card number comes back next to "Card number".
    email.fill(unique_email("browser-invalid"))
    page.get_by_role("button", name="Place order").click()
    _expect_error_next_to(page, "Card number", re.compile("card number", re.IGNORECASE))
    expect(page.get_by_role("alert")).to_contain_text("Please check your details")
    expect(page.get_by_label("Card number")).to_have_value("")
    expect(page.get_by_label("Email")).to_have_value(re.compile("browser-invalid"))
    html = page.content()
    for echoed in (bad_card, bad_card.replace(" ", "")):
        assert echoed not in html, "the rejected card number was echoed back into the page"
    capture(page, "checkout-card-error")

    # An address the browser accepts but the api does not (no dot after the @).
    fill_checkout(page, email="dana@example", card=APPROVED_CARD)
    page.get_by_role("button", name="Place order").click()
    _expect_error_next_to(page, "Email", re.compile("email address", re.IGNORECASE))
    expect(page.get_by_label("Card number")).to_have_value("")
    assert "4242424242424242" not in page.content()
    capture(page, "checkout-email-error")


def test_script_in_the_query_is_shown_as_text(desktop: Watched, system: RunningSystem) -> None:
    page = desktop.page
    attack = "<script>alert(1)</script>"
    page.goto("/")
    mark_page(page)
    page.get_by_label("Search restaurants").press_sequentially(attack, delay=10)
    expect(page.get_by_text(f"No restaurants match “{attack}”")).to_be_visible()
    assert_not_reloaded(page)

    page.goto("/?" + str(httpx.QueryParams({"q": attack})))
    expect(page.get_by_text(f"No restaurants match “{attack}”")).to_be_visible()
    expect(page.get_by_label("Search restaurants")).to_have_value(attack)
    expect(page).to_have_title(re.compile(re.escape(attack)))
    expect(page.locator("script", has_text="alert")).to_have_count(0)
    assert desktop.dialogs == []
    capture(page, "search-script-query")


@dataclass
class BusySite:
    """Bank, api and one web replica in this process; the api is at its outbox threshold."""

    web: str
    api: str
    api_app: FastAPI
    database_url: str

    def orders_with_key(self, key: str) -> int:
        engine = create_db_engine(self.database_url)
        with engine.connect() as connection:
            query = select(func.count()).select_from(Order).where(Order.idempotency_key == key)
            count = int(connection.scalar(query) or 0)
        engine.dispose()
        return count

    def drain_outbox(self) -> None:
        """What the relay does once Kafka takes the events; then wait until the api sees it."""
        engine = create_db_engine(self.database_url)
        with engine.begin() as connection:
            connection.execute(update(OutboxRecord).values(published_at=func.now()))
        engine.dispose()
        sampler = self.api_app.state.outbox_backlog
        wait_for(lambda: sampler.value() == 0, what="the api to see the outbox drained")


@pytest.fixture
def busy_site(tmp_path: Path) -> Iterator[BusySite]:
    from tests.integration.web.conftest import start_server

    (tmp_path / "db").mkdir()
    bank_port = free_port()
    settings = Settings.model_validate(
        {
            "DATA_DIR": str(tmp_path),
            "BOOTSTRAP_SVR": "127.0.0.1:1",  # no Kafka: the outbox keeps what it is given
            "API_WORKERS": "false",
            "API_MAX_OUTBOX_BACKLOG": "1",
            "BANK_URL": f"http://127.0.0.1:{bank_port}",
            # One settings object for the bank (every caller's key) and the api (its own).
            **BANK_KEYS,
            "BANK_API_KEY": API_KEY,
            "CART_SECRET": "busy-site",
            "MAILBOX_ENABLED": "false",
        }
    )
    migrate("bank", settings.bank_db_url)
    migrate("api", settings.api_db_url)
    seed_catalog(settings.api_db_url)
    servers = [start_server(create_bank_app(settings), bank_port)]
    api_app = create_api_app(settings)
    servers.append(api := start_server(api_app, free_port()))
    web_settings = settings.model_copy(update={"api_url": api.url})
    servers.append(web := start_server(create_web_app(web_settings), free_port()))
    try:
        yield BusySite(web.url, api.url, api_app, settings.api_db_url)
    finally:
        for server in reversed(servers):
            server.stop()


def test_a_busy_checkout_keeps_what_was_typed_and_the_retry_places_one_order(
    browser: Browser, busy_site: BusySite
) -> None:
    # Someone's order waits for Kafka: the api is at its outbox threshold and refuses more.
    [amore] = httpx.get(f"{busy_site.api}/search", params={"restaurant_name": "Amore Mio"}).json()
    menu = httpx.get(f"{busy_site.api}/restaurants/{amore['id']}").json()["menu"]
    earlier = {
        "restaurant_id": amore["id"],
        "items": [{"menu_item_id": menu[0]["id"], "quantity": 1}],
        "email": "earlier@example.com",
        "name": "Earlier",
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    }
    assert httpx.post(f"{busy_site.api}/orders", json=earlier).status_code == 202
    sampler = busy_site.api_app.state.outbox_backlog
    wait_for(lambda: sampler.value() == 1, what="the api to count the backlog")

    context = browser.new_context(base_url=busy_site.web, viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    console_errors: list[str] = []
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    # The busy answers are 503 on purpose; Chromium logs those.
    page.on(
        "console",
        lambda m: (
            m.type == "error" and "status of 503" not in m.text and console_errors.append(m.text)
        ),
    )
    try:
        page.goto(f"/restaurants/{amore['id']}")
        add_two_dishes(page)
        page.goto("/checkout")
        email = unique_email("browser-busy")
        fill_checkout(page, email=email, card=APPROVED_CARD)
        key = page.locator("input[name=checkout_token]").input_value()
        mark_page(page)

        place = page.get_by_role("button", name="Place order")
        place.click()
        busy = page.get_by_role("alert")
        expect(busy).to_have_text(
            "We're very busy. Your card was not charged; try again in a few seconds."
        )
        capture(page, "checkout-busy")
        # Nothing typed is lost, the card included, and the page never reloaded.
        assert_not_reloaded(page)
        expect(page.get_by_label("Card number")).to_have_value(APPROVED_CARD)
        expect(page.get_by_label("CVC")).to_have_value("123")
        expect(page.get_by_label("Email")).to_have_value(email)
        expect(
            page.get_by_role("region", name=re.compile("Your order from Amore Mio"))
        ).to_contain_text(
            "2 × Pizza Margherita"  # noqa: RUF001
        )
        expect(place).to_be_enabled()

        # An impatient double click while still busy: still nothing placed.
        with page.expect_response(lambda r: r.url.endswith("/checkout")) as answer:
            place.dblclick()
        assert answer.value.status == 503
        expect(busy).to_be_visible()
        expect(place).to_be_enabled()
        assert busy_site.orders_with_key(key) == 0

        # A few seconds later the api keeps up again: the same click places the order, once.
        busy_site.drain_outbox()
        order = PlacedOrder(page)
        expect(page.get_by_text(re.compile(r"^Status:\s*Pending$"))).to_be_visible()
        assert busy_site.orders_with_key(key) == 1
        assert order.order_id
        assert console_errors == [], console_errors
    finally:
        context.close()
