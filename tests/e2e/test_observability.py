"""The running system can be observed: its metrics move, and one order is one trace in the logs."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import RunningSystem
from tests.e2e.test_system import CARD, messages_to
from tests.fixtures.components import wait_for
from tests.fixtures.kafka_io import produce

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample a /metrics page serves, keyed by name and labels."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over the series whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def series(samples: Samples, name: str, **labels: str) -> int:
    wanted = set(labels.items())
    return sum(1 for (n, ls) in samples if n == name and wanted <= ls)


def endpoints(system: RunningSystem) -> dict[str, list[str]]:
    """Where each process serves /metrics (the consumers on their health ports)."""
    env = system.env
    base = int(env["WEB_REPLICA_BASE_PORT"])
    state = json.loads((system.data_dir / "run" / "supervisor.json").read_text())
    replicas = [p["url"] for p in state["processes"] if p["name"].startswith("web-")]
    return {
        "api": [system.api],
        "bank": [system.bank],
        "transactions": [f"http://127.0.0.1:{env['TRANSACTIONS_HEALTH_PORT']}"],
        "mailer": [f"http://127.0.0.1:{env['MAILER_HEALTH_PORT']}"],
        "mailbox": [system.mailbox],
        "web": replicas or [f"http://127.0.0.1:{base}"],
    }


def scrape_all(system: RunningSystem) -> dict[str, Samples]:
    merged: dict[str, Samples] = {}
    for process, urls in endpoints(system).items():
        merged[process] = {}
        for url in urls:  # replicas: add their samples up
            for key, value in scrape(url).items():
                merged[process][key] = merged[process].get(key, 0.0) + value
    return merged


def place(
    system: RunningSystem, card_number: str, email: str, traceparent: str | None = None
) -> str:
    [place] = httpx.get(f"{system.api}/search", params={"restaurant_name": "amore mio"}).json()
    menu = httpx.get(f"{system.api}/restaurants/{place['id']}").json()["menu"]
    body: dict[str, Any] = {
        "restaurant_id": place["id"],
        "items": [{"menu_item_id": menu[0]["id"], "quantity": 1}],
        "email": email,
        "name": "Noa Cohen",
        "delivery_address": "Allenby 1, Tel Aviv",
        "card": {**CARD, "number": card_number},
    }
    headers = {"traceparent": traceparent} if traceparent else {}
    response = httpx.post(f"{system.api}/orders", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["order_id"])


def status_of(system: RunningSystem, order_id: str) -> str:
    return str(httpx.get(f"{system.api}/orders/{order_id}").json()["status"])


def grows(before: Samples, after: Samples, name: str, by: float = 1, **labels: str) -> bool:
    return total(after, name, **labels) - total(before, name, **labels) >= by


def test_metrics_exist_and_move_when_orders_flow(system: RunningSystem) -> None:
    before = scrape_all(system)
    stamp = time.monotonic_ns()
    orders = {
        "ok": place(system, "4242424242424242", f"m-ok-{stamp}@example.com"),
        "retried": place(system, "4000000000000119", f"m-retry-{stamp}@example.com"),
        "declined": place(system, "4000000000000002", f"m-no-{stamp}@example.com"),
    }
    # A message no one can read: the payment service parks it in order.DLQ and goes on.
    produce(f"127.0.0.1:{system.env['KAFKA_PORT']}", "order", [(b"junk", b"{oops", None)])
    expected = {"ok": "confirmed", "retried": "confirmed", "declined": "declined"}
    wait_for(
        lambda: {k: status_of(system, v) for k, v in orders.items()} == expected,
        timeout=90,
        what="orders settled",
    )
    wait_for(lambda: messages_to(system, f"m-retry-{stamp}@example.com"), timeout=60, what="email")
    wait_for(lambda: messages_to(system, f"m-ok-{stamp}@example.com"), timeout=60, what="email")
    httpx.get(f"{system.web}/", params={"q": "pizza"})
    httpx.get(f"{system.web}/", params={"q": "sushi"})

    def moved() -> list[str]:
        after = scrape_all(system)
        checks: dict[str, Callable[[], bool]] = {
            # api: orders, outbox, end-to-end latency, HTTP by route template
            "orders placed": lambda: grows(before["api"], after["api"], "orders_placed_total", 3),
            "orders confirmed": lambda: grows(
                before["api"], after["api"], "orders_settled_total", 2, status="confirmed"
            ),
            "orders declined": lambda: grows(
                before["api"], after["api"], "orders_settled_total", 1, status="declined"
            ),
            "settle latency": lambda: grows(
                before["api"], after["api"], "order_settle_latency_seconds_count", 3
            ),
            "outbox published": lambda: grows(
                before["api"], after["api"], "outbox_published_total", 3
            ),
            "outbox latency": lambda: grows(
                before["api"], after["api"], "outbox_publish_latency_seconds_count", 3
            ),
            "api POST /orders": lambda: grows(
                before["api"],
                after["api"],
                "http_requests_total",
                3,
                method="POST",
                route="/orders",
                status="202",
            ),
            "api latency": lambda: grows(
                before["api"],
                after["api"],
                "http_request_duration_seconds_count",
                3,
                route="/orders",
            ),
            "api status consumer": lambda: grows(
                before["api"],
                after["api"],
                "kafka_message_processing_seconds_count",
                3,
                group="api-order-status",
            ),
            # transactions: bank calls, retries, dead letters, lag, processing time
            # Charges go in batches: at least the first call and the flaky card's two retries.
            "bank calls": lambda: grows(
                before["transactions"], after["transactions"], "bank_charge_seconds_count", 3
            ),
            "bank outcomes": lambda: grows(
                before["transactions"], after["transactions"], "bank_charge_requests_total", 3
            ),
            "retries by reason": lambda: grows(
                before["transactions"],
                after["transactions"],
                "kafka_retries_total",
                2,
                group="transaction-service",
                reason="bank_error",
            ),
            "dead letters by reason": lambda: grows(
                before["transactions"],
                after["transactions"],
                "kafka_dead_letters_total",
                1,
                topic="order",
                reason="invalid_event",
            ),
            "payments": lambda: grows(
                before["transactions"],
                after["transactions"],
                "payments_settled_total",
                2,
                result="confirmed",
            ),
            "transactions processing": lambda: grows(
                before["transactions"],
                after["transactions"],
                "kafka_message_processing_seconds_count",
                3,
                group="transaction-service",
            ),
            "transactions lag": lambda: (
                series(after["transactions"], "kafka_consumer_lag", group="transaction-service") > 0
            ),
            # mailer: emails and its consumer
            "emails sent": lambda: grows(
                before["mailer"], after["mailer"], "mailer_confirmations_total", 2, result="sent"
            ),
            "mailer lag": lambda: (
                series(after["mailer"], "kafka_consumer_lag", group="confirmation-service") > 0
            ),
            # bank and web serve request metrics too
            "bank charges": lambda: grows(
                before["bank"],
                after["bank"],
                "http_requests_total",
                3,
                method="POST",
                route="/v1/charges/batch",
            ),
            "bank tokens": lambda: grows(
                before["bank"], after["bank"], "http_requests_total", 3, route="/v1/tokens"
            ),
            "web pages": lambda: grows(
                before["web"], after["web"], "http_requests_total", 2, method="GET", route="/"
            ),
            "web latency": lambda: grows(
                before["web"], after["web"], "http_request_duration_seconds_count", 2, route="/"
            ),
        }
        return [name for name, check in checks.items() if not check()]

    # Counters settle a moment after the status does (the outbox marks rows after the ack).
    stuck: list[str] = []

    def all_moved() -> bool:
        stuck[:] = moved()
        return not stuck

    try:
        wait_for(all_moved, timeout=30, what="every metric moved")
    except AssertionError:
        raise AssertionError(f"metrics that did not move: {stuck}") from None
    assert stuck == []


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def test_one_orders_trace_id_is_in_the_logs_of_api_transactions_and_mailer(
    system: RunningSystem,
) -> None:
    trace_id = secrets.token_hex(16)
    email = f"traced-{time.monotonic_ns()}@example.com"
    order_id = place(system, "4242424242424242", email, f"00-{trace_id}-{secrets.token_hex(8)}-01")
    wait_for(lambda: messages_to(system, email), timeout=60, what="confirmation email")

    def traced_in(process: str) -> bool:
        return any(
            line.get("trace_id") == trace_id and line.get("order_id") == order_id
            for line in _json_lines(system.log(process))
        )

    for process in ("api", "transactions", "mailer"):
        wait_for(lambda process=process: traced_in(process), timeout=30, what=f"{process} log")
    # Log files hold JSON, one object per line; lines about an order name its trace.
    for process in ("api", "transactions", "mailer", "bank"):
        lines = _json_lines(system.log(process))
        assert lines, f"no JSON lines in {process}.log"
        assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
        assert all("trace_id" in line for line in lines if "order_id" in line), process


def test_logs_command_interleaves_and_selects(system: RunningSystem) -> None:
    one = system.cli("logs", "mailer")
    assert one.returncode == 0, one.stderr
    assert one.stdout.strip() and " | " not in one.stdout.splitlines()[0]
    every = system.cli("logs")
    assert every.returncode == 0, every.stderr
    prefixes = {
        line.split(" | ", 1)[0].strip() for line in every.stdout.splitlines() if " | " in line
    }
    assert {"api", "transactions", "mailer"} <= prefixes
    unknown = system.cli("logs", "no-such-process")
    assert unknown.returncode == 2 and "api" in unknown.stdout
