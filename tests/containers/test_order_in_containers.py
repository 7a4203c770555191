"""A real Chromium orders through the web containers; the order is confirmed and mailed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.containers.conftest import Deployment
from tests.e2e.browser import (
    APPROVED_CARD,
    DESKTOP,
    PlacedOrder,
    add_two_dishes,
    fill_checkout,
    launch_chromium,
    search_and_open_restaurant,
    unique_email,
)
from tests.fixtures.components import wait_for

# The first test to run pays for the image build (minutes when cold) and the start-up.
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def mail_to(mailbox: str, email: str) -> list[dict[str, Any]]:
    """The messages in the mailbox addressed to `email` (Mailpit's listing API)."""
    listing = httpx.get(f"{mailbox}/api/v1/messages", params={"limit": 200}).json()
    return [
        message
        for message in listing["messages"]
        if any(to["Address"] == email for to in message["To"])
    ]


def test_an_order_through_the_web_containers_is_confirmed_and_mailed(
    deployment: Deployment, browser: Browser
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        search_and_open_restaurant(page, deployment.url("web-1"))
        add_two_dishes(page)
        # The cart is a cookie signed with CART_SECRET, so the other replica reads it (cookies
        # are per host, not per port: one browser session spans both replicas).
        page.goto(f"{deployment.url('web-2')}/cart")
        expect(page.get_by_label("Quantity of Pizza Margherita")).to_have_value("2")
        page.get_by_role("link", name="Checkout").click()
        email = unique_email("containers")
        fill_checkout(page, email=email, card=APPROVED_CARD)
        order = PlacedOrder(page)
        order.expect_settles_live("Confirmed")

        mailbox = deployment.url("mailbox")
        [message] = wait_for(lambda: mail_to(mailbox, email), timeout=60, what="the email")
        assert order.order_id[:8] in message["Subject"]
    except Exception:  # an expect() or a Playwright timeout
        print(deployment.all_logs())  # pytest shows it with the failure
        raise
    finally:
        context.close()
