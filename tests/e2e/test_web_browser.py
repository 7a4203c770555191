"""The website in a real headless Chromium, against the whole running system."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    expect,
    sync_playwright,
)

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
from tests.fixtures.components import wait_for


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
