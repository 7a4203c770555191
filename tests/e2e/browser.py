"""Helpers for the browser tests: Debian's Chromium under Playwright, screenshots, mailbox."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, expect

from tests.fixtures.components import require

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 812}
# CI uploads this folder as an artifact; var/ is gitignored.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

APPROVED_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
# The status poller asks every second; the pipeline usually settles in a few seconds.
ORDER_SETTLES_MS = 60_000


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless; fails in CI (skips elsewhere) when it isn't installed."""
    require(CHROMIUM.exists(), f"{CHROMIUM} (apt-get install -y chromium)")
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


def unique_email(what: str) -> str:
    """An address no other test (or earlier run on the same mailbox) uses."""
    return f"{what}-{time.monotonic_ns()}@example.com"


def assert_no_horizontal_scroll(page: Page) -> None:
    """Nothing on the page is wider than the viewport (a phone would scroll sideways)."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide at a {width}px viewport"


def capture(page: Page, name: str) -> list[Path]:
    """Full-page screenshots at desktop and phone width; checks the phone layout fits."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size or DESKTOP
    paths = []
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        if size == PHONE:
            assert_no_horizontal_scroll(page)
        path = SCREENSHOTS / f"web-{name}-{label}.png"
        page.screenshot(path=path, full_page=True)
        paths.append(path)
    page.set_viewport_size(original)
    return paths


def mark_page(page: Page) -> None:
    """Set a marker on `window` that only survives as long as the page is not reloaded."""
    page.evaluate("window.__e2eNotReloaded = true")


def assert_not_reloaded(page: Page) -> None:
    """The marker set by mark_page() is still there: the page changed without a navigation."""
    assert page.evaluate("window.__e2eNotReloaded === true"), f"{page.url} was reloaded"


def search_and_open_restaurant(page: Page, web: str) -> None:
    """Search by text and by filters the way a person does, then open Amore Mio."""
    page.goto(f"{web}/")
    expect(page).to_have_title(re.compile("Find a restaurant"))
    mark_page(page)
    search = page.get_by_label("Search restaurants")
    count = page.get_by_role("status").filter(has_text="restaurants")
    everything = count.inner_text()
    # Typed key by key: the results follow as you type, without a page load.
    search.press_sequentially("piza", delay=40)
    expect(count).not_to_have_text(everything)
    results = page.get_by_role("list", name="Restaurants")
    expect(results.get_by_role("link").first).to_have_text("pizza Makpiza")
    expect(page).to_have_url(re.compile(r"[?&]q=piza"))
    assert_not_reloaded(page)

    search.fill("")
    page.get_by_label("Style").select_option(label="Italian")
    page.get_by_label("Vegetarian").check()
    page.get_by_label("Delivery").check()
    expect(page).to_have_url(re.compile(r"delivery=true"))
    expect(results.get_by_role("link", name="Amore Mio")).to_be_visible()
    expect(results.get_by_role("link", name="pizza Makpiza")).to_have_count(0)
    cards = results.get_by_role("listitem")
    for index in range(cards.count()):
        card = cards.nth(index)
        expect(card).to_contain_text("Italian")
        expect(card).to_contain_text("Vegetarian")
        expect(card).to_contain_text("Delivers")
    assert_not_reloaded(page)

    results.get_by_role("link", name="Amore Mio").click()
    expect(page.get_by_role("heading", level=1, name="Amore Mio")).to_be_visible()


def add_two_dishes(page: Page) -> None:
    """Add the first dish twice over (quantity 2) and the second once, from the menu page."""
    adds = page.get_by_role("button", name="Add to cart")
    page.get_by_label("Quantity of Pizza Margherita").fill("2")
    adds.first.click()
    expect(page.get_by_role("status").filter(has_text="Added to your cart")).to_be_visible()
    adds.nth(1).click()
    expect(page.get_by_role("complementary")).to_contain_text("3 items")


def fill_checkout(page: Page, *, email: str, card: str, name: str = "Dana Levi") -> None:
    """Fill in the checkout form by its labels (pickup, so no address is needed)."""
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    pickup = page.get_by_label("Pick up at the restaurant")
    if pickup.count():
        pickup.check()
    page.get_by_label("Card number").fill(card)
    page.get_by_label("Expiry").fill("12/31")
    page.get_by_label("CVC").fill("123")


ORDER_PAGE = re.compile(r"/orders/[A-Za-z0-9_-]+$")
STATUS_FRAGMENT = re.compile(r"/orders/[A-Za-z0-9_-]+/status\?")


class PlacedOrder:
    """An order placed through the checkout form, and how its page learned the outcome."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.fragments: list[int] = []  # HTTP statuses of the live status polls
        page.on("response", self._on_response)
        with page.expect_response(
            lambda r: bool(ORDER_PAGE.search(r.url)) and r.request.resource_type == "document"
        ) as first_view:
            page.get_by_role("button", name="Place order").click()
        self.first_html = first_view.value.text()
        self.order_id = first_view.value.url.rsplit("/", 1)[1]
        expect(page).to_have_url(ORDER_PAGE)
        mark_page(page)

    def _on_response(self, response: Any) -> None:
        if STATUS_FRAGMENT.search(response.url):
            self.fragments.append(response.status)

    def first_status(self) -> str:
        """The status word in the order page as the server first sent it."""
        found = re.search(r'class="status-word">([^<]+)<', self.first_html)
        return found.group(1) if found else ""

    def expect_settles_live(self, word: str) -> None:
        """The page moves from "Pending" to `word` by polling, without reloading."""
        status = self.page.get_by_text(re.compile(rf"^Status:\s*{word}$"))
        expect(status).to_be_visible(timeout=ORDER_SETTLES_MS)
        assert_not_reloaded(self.page)
        if self.first_status() == "Pending":
            # Pushed over Server-Sent Events, or (without them) polled: 286 is the poll answer
            # that carried the final status.
            mode = self.page.locator("[data-live-target]").get_attribute("data-live-mode")
            assert mode == "events" or 286 in self.fragments, (mode, self.fragments)
        else:
            # The pipeline beat the redirect; the page was right from the start.
            assert self.first_status() == word, self.first_status()


def messages_to(mailbox: str, email: str) -> list[dict[str, Any]]:
    """What the development mailbox received for `email` (its Mailpit-style JSON API)."""
    found = httpx.get(f"{mailbox}/api/v1/search", params={"query": f"to:{email}"}).json()
    return list(found["messages"])
