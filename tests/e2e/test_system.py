"""The system as a user runs it: up, search, order, confirmation email, down."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import httpx

from kafka_restaurants.bank.keys import KEYS_FILE_NAME, bearer, generated_keys, operator_key
from kafka_restaurants.cli.supervisor import pid_alive
from tests.e2e.conftest import RunningSystem
from tests.fixtures.components import wait_for

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}


def test_status_lists_every_process(system: RunningSystem) -> None:
    result = system.cli("status")
    assert result.returncode == 0, result.stderr
    for name in (
        "kafka",
        "api",
        "bank",
        "transactions",
        "mailer",
        "kitchen",
        "mailbox",
        "web-1",
        "web-2",
    ):
        assert f"{name} " in result.stdout and "DEAD" not in result.stdout, result.stdout


def test_search_over_http(system: RunningSystem) -> None:
    found = httpx.get(
        f"{system.api}/search", params={"restaurant_style": "italian", "vegetarian": "true"}
    ).json()
    assert "Amore Mio" in [r["name"] for r in found]
    assert httpx.get(f"{system.api}/readyz").json()["checks"] == {"database": "ok", "kafka": "ok"}
    page = httpx.get(f"{system.web}/", params={"q": "piza"})
    assert page.status_code == 200 and "pizza Makpiza" in page.text


def place(system: RunningSystem, card_number: str, email: str) -> str:
    [place] = httpx.get(f"{system.api}/search", params={"restaurant_name": "amore mio"}).json()
    menu = httpx.get(f"{system.api}/restaurants/{place['id']}").json()["menu"]
    body: dict[str, Any] = {
        "restaurant_id": place["id"],
        "items": [{"menu_item_id": menu[0]["id"], "quantity": 2}],
        "email": email,
        "name": "Dana Levi",
        "delivery_address": "Dizengoff 100, Tel Aviv",
        "card": {**CARD, "number": card_number},
    }
    response = httpx.post(f"{system.api}/orders", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["order_id"])


def messages_to(system: RunningSystem, email: str) -> list[dict[str, Any]]:
    found = httpx.get(f"{system.mailbox}/api/v1/search", params={"query": f"to:{email}"}).json()
    return list(found["messages"])


def test_order_is_confirmed_and_mailed_once(system: RunningSystem) -> None:
    email = f"happy-{time.monotonic_ns()}@example.com"
    order_id = place(system, CARD["number"], email)
    wait_for(
        lambda: httpx.get(f"{system.api}/orders/{order_id}").json()["status"] == "confirmed",
        timeout=60,
        what="order confirmed",
    )
    wait_for(lambda: messages_to(system, email), timeout=60, what="confirmation email")
    [message] = messages_to(system, email)
    assert order_id[:8] in message["Subject"]
    assert message["To"] == [{"Name": "Dana Levi", "Address": email}]
    order = httpx.get(f"{system.api}/orders/{order_id}").json()
    full = httpx.get(f"{system.mailbox}/api/v1/message/{message['ID']}").json()
    assert order["items"][0]["name"] in full["Text"]
    assert f"{order['total_minor'] / 100:.2f}" in full["Text"]
    assert order["items"][0]["name"] in full["HTML"]
    # `restaurants up` made the bank's keys; the operator's is in the data directory.
    operator = bearer(operator_key(system.data_dir, env={}))
    charges = httpx.get(
        f"{system.bank}/v1/charges", params={"reference": order_id}, headers=operator
    ).json()
    assert [c["status"] for c in charges["charges"]] == ["succeeded"]
    assert httpx.get(f"{system.bank}/v1/charges").status_code == 401


def test_declined_card_is_declined_without_email(system: RunningSystem) -> None:
    email = f"declined-{time.monotonic_ns()}@example.com"
    order_id = place(system, "4000000000000002", email)
    wait_for(
        lambda: httpx.get(f"{system.api}/orders/{order_id}").json()["status"] == "declined",
        timeout=60,
        what="order declined",
    )
    order = httpx.get(f"{system.api}/orders/{order_id}").json()
    assert order["decline_code"] == "card_declined"
    assert messages_to(system, email) == []


def test_no_card_number_in_files_or_logs(system: RunningSystem) -> None:
    place(system, CARD["number"], f"audit-{time.monotonic_ns()}@example.com")
    wait_for(lambda: system.log("mailer"), what="mailer log")
    leaks = []
    bank_keys = generated_keys(system.data_dir).values()
    for root, _dirs, files in os.walk(system.data_dir):
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as handle:
                    content = handle.read()
            except OSError:
                continue
            if b"4242424242424242" in content or b"4000000000000002" in content:
                leaks.append(path)
            # The bank's keys live in their own file and nowhere else: no log, no state file.
            if name != KEYS_FILE_NAME and any(key.encode() in content for key in bank_keys):
                leaks.append(path)
    assert leaks == []


def test_orders_placed_while_kafka_is_down_are_confirmed_after_it_returns(
    system: RunningSystem,
) -> None:
    kafka_pid = system.pid_of("kafka")
    os.kill(kafka_pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(kafka_pid), what="broker killed")
    emails = [f"outage-{i}-{time.monotonic_ns()}@example.com" for i in range(5)]
    order_ids = [place(system, CARD["number"], email) for email in emails]

    def all_confirmed() -> bool:
        statuses = [
            httpx.get(f"{system.api}/orders/{order_id}").json()["status"] for order_id in order_ids
        ]
        return statuses == ["confirmed"] * len(order_ids)

    # The supervisor restarts the broker; the outbox publishes what it kept.
    wait_for(all_confirmed, timeout=180, interval=0.5, what="orders confirmed after the outage")
    for email in emails:
        wait_for(lambda email=email: messages_to(system, email), timeout=60, what=email)
        assert len(messages_to(system, email)) == 1
