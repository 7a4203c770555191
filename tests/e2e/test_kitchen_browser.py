"""The restaurant's side in Chromium: a customer orders, the kitchen moves the order on, and the
customer's page shows each step within a second, with a web replica killed in the middle."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, Response, expect, sync_playwright

from tests.e2e.browser import (
    APPROVED_CARD,
    PlacedOrder,
    assert_not_reloaded,
    capture,
    fill_checkout,
    launch_chromium,
    mark_page,
    unique_email,
)
from tests.e2e.conftest import RunningSystem
from tests.e2e.test_web_browser import Watched, _go_to_checkout
from tests.fixtures.components import wait_for

# The promise: a step pressed in the kitchen is on the customer's page within a second.
STEP_SHOWN_MS = 1000
# A new order reaches the kitchen through the bank, the payment service and order_confirm.
TICKET_ARRIVES_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def watched(browser: Browser, system: RunningSystem) -> Watched:
    context = browser.new_context(base_url=system.web)
    context.set_default_timeout(15_000)
    return Watched(context.new_page())


class StreamWatcher:
    """Which web replica serves each live stream the customer's page opens."""

    def __init__(self, page: Page) -> None:
        self.replicas: list[str] = []
        page.on("response", self._seen)

    def _seen(self, response: Response) -> None:
        if re.search(r"/orders/[^/]+/events", response.url) and response.status == 200:
            self.replicas.append(response.headers.get("x-served-by", ""))


def press(kitchen: Page, order_id: str, label: str) -> None:
    """Press `label` on the order's ticket and wait for the kitchen's answer."""
    ticket = kitchen.locator(f'li[data-order-id="{order_id}"]')
    with kitchen.expect_response(lambda r: r.url.endswith(f"/orders/{order_id}/steps")) as sent:
        ticket.get_by_role("button", name=label).click()
    assert sent.value.status == 200, sent.value.status


def test_kitchen_steps_reach_the_customer_live_across_a_replica_kill(
    browser: Browser, system: RunningSystem
) -> None:
    customer, kitchen = watched(browser, system), watched(browser, system)
    page = customer.page
    streams = StreamWatcher(page)
    _go_to_checkout(page, system, screenshots=False)
    fill_checkout(page, email=unique_email("kitchen-journey"), card=APPROVED_CARD)
    order = PlacedOrder(page)
    order.expect_settles_live("Confirmed")
    restaurant_id = httpx.get(f"{system.api}/orders/{order.order_id}").json()["restaurant_id"]

    # The kitchen opens the restaurant's secret link; a customer guessing it gets nowhere.
    link = system.cli("kitchen-link", str(restaurant_id))
    assert link.returncode == 0, link.stderr
    url = link.stdout.strip()
    assert url.startswith(f"{system.web}/kitchen/{restaurant_id}?key=")
    assert httpx.get(f"{system.web}/kitchen/{restaurant_id}?key=guess").status_code == 403
    kitchen.page.goto(url)
    mark_page(kitchen.page)
    ticket = kitchen.page.locator(f'li[data-order-id="{order.order_id}"]')
    expect(ticket).to_be_visible(timeout=TICKET_ARRIVES_MS)
    expect(ticket).to_contain_text("Pickup")
    expect(ticket).to_contain_text("Pizza Margherita")
    expect(ticket.get_by_role("button", name="Out for delivery")).to_have_count(0)
    capture(kitchen.page, "kitchen")

    press(kitchen.page, order.order_id, "Accept")
    expect(page.locator(".step-word")).to_have_text("Accepted", timeout=STEP_SHOWN_MS)

    # Kill the replica that serves the customer's stream: the browser reconnects through the
    # load balancer to another one, and the next step still arrives within the second.
    assert streams.replicas, "the order page opened no event stream"
    victim = streams.replicas[-1]
    victim_pid = system.pid_of(victim)
    with page.expect_response(
        lambda r: "/events" in r.url and r.headers.get("x-served-by") not in (None, victim),
        timeout=10_000,
    ):
        os.kill(victim_pid, signal.SIGKILL)
    press(kitchen.page, order.order_id, "Ready")
    expect(page.locator(".step-word")).to_have_text("Ready", timeout=STEP_SHOWN_MS)
    expect(page.get_by_text("Your order is ready for pickup.")).to_be_visible()
    assert_not_reloaded(page)
    assert_not_reloaded(kitchen.page)
    expect(ticket).to_contain_text("Ready")
    expect(ticket.get_by_role("button")).to_have_count(0)  # nothing left to do for pickup
    capture(page, "order-ready")
    for side in (customer, kitchen):
        side.page.context.close()
        # A killed replica's stream drops with a network error; nothing else may complain.
        errors = [e for e in side.console_errors if "net::ERR" not in e and "/events" not in e]
        assert errors == [] and side.dialogs == [], (errors, side.dialogs)
    # The session's system is shared with the tests after this one: leave it whole, with the
    # killed replica restarted by the supervisor and serving again.
    wait_for(
        lambda: system.pid_of(victim) != victim_pid and _serves(system, victim),
        timeout=60,
        what=f"{victim} restarted",
    )


def _serves(system: RunningSystem, replica: str) -> bool:
    url = next(p["url"] for p in system.processes() if p["name"] == replica)
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
