"""The payment service against a real broker and a real bank: one terminal state per order."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
from prometheus_client import REGISTRY

from kafka_restaurants.events import OrderConfirmed, OrderDeclined, OrderPlaced
from kafka_restaurants.messaging.service import ConsumerProcess
from kafka_restaurants.transactions.app import TransactionsConfig
from tests.fixtures.components import wait_for
from tests.fixtures.kafka_io import committed_offsets, consume_all, produce
from tests.integration.transactions.conftest import (
    Bank,
    BankServer,
    Topics,
    produce_orders,
    service_config,
)
from tests.unit.transactions.samples import placed

RunService = Callable[[TransactionsConfig], ConsumerProcess]


def new_order(bank: BankServer, card: str = "ok", total: int = 2550) -> OrderPlaced:
    """An order paid with a test card, tokenized for it as the api does."""
    order_id = f"ord_{uuid.uuid4().hex[:12]}"
    return placed(order_id, total=total, token=bank.token(card, order_id, total))


def confirmations(bootstrap: str, topics: Topics, expected: int, settle: float = 0.0):
    found = consume_all(bootstrap, topics.confirmed, expected, settle=settle)
    return [OrderConfirmed.model_validate_json(m.value() or b"") for m in found]


def declines(bootstrap: str, topics: Topics, expected: int, settle: float = 0.0):
    found = consume_all(bootstrap, topics.declined, expected, settle=settle)
    return [OrderDeclined.model_validate_json(m.value() or b"") for m in found]


def succeeded(charges: list[dict]) -> list[dict]:
    return [c for c in charges if c["status"] == "succeeded"]


def test_good_card_confirms_the_order_with_one_charge(
    kafka_bootstrap: str, bank: Bank, topics: Topics, run_service: RunService
) -> None:
    server = bank.up()
    order = new_order(server, "ok", total=4321)
    produce_orders(kafka_bootstrap, topics.orders, [order])
    config = service_config(kafka_bootstrap, bank.url, topics)
    run_service(config)

    [confirmed] = confirmations(kafka_bootstrap, topics, 1, settle=1.0)
    assert confirmed.order_id == order.order_id
    assert confirmed.order == order.order
    [charge] = server.charges(order.order_id)
    assert charge["status"] == "succeeded"
    assert charge["charge_id"] == confirmed.charge_id
    assert (charge["amount"], charge["currency"]) == (4321, "EUR")
    assert declines(kafka_bootstrap, topics, 0, settle=0.5) == []
    wait_for(
        lambda: committed_total(kafka_bootstrap, config.reading.group_id, topics.orders) == 1,
        what="the order's offset committed",
    )


def test_declined_cards_decline_the_order_in_plain_words(
    kafka_bootstrap: str, bank: Bank, topics: Topics, run_service: RunService
) -> None:
    server = bank.up()
    refused = new_order(server, "declined")
    poor = new_order(server, "insufficient")
    produce_orders(kafka_bootstrap, topics.orders, [refused, poor])
    run_service(service_config(kafka_bootstrap, bank.url, topics))

    found = {d.order_id: d for d in declines(kafka_bootstrap, topics, 2, settle=1.0)}
    assert set(found) == {refused.order_id, poor.order_id}
    assert found[refused.order_id].decline_code == "card_declined"
    assert found[refused.order_id].reason == "The card was declined."
    assert found[poor.order_id].decline_code == "insufficient_funds"
    assert found[poor.order_id].reason == "The card has insufficient funds."
    for order in (refused, poor):
        assert succeeded(server.charges(order.order_id)) == []
    assert confirmations(kafka_bootstrap, topics, 0, settle=0.5) == []


def test_transient_processing_errors_are_retried_then_confirmed_once(
    kafka_bootstrap: str, bank: Bank, topics: Topics, run_service: RunService
) -> None:
    server = bank.up()
    order = new_order(server, "flaky")
    produce_orders(kafka_bootstrap, topics.orders, [order])
    retries_before = retried(topics.orders)
    run_service(service_config(kafka_bootstrap, bank.url, topics))

    [confirmed] = confirmations(kafka_bootstrap, topics, 1, settle=1.0)
    assert confirmed.order_id == order.order_id
    # The card fails the first two attempts for a key, so the service must have come back.
    assert retried(topics.orders) - retries_before >= 2
    [charge] = server.charges(order.order_id)
    assert charge["status"] == "succeeded"
    assert charge["charge_id"] == confirmed.charge_id


def test_the_same_order_twice_is_charged_once(
    kafka_bootstrap: str, bank: Bank, topics: Topics, run_service: RunService
) -> None:
    server = bank.up()
    order = new_order(server, "ok")
    produce_orders(kafka_bootstrap, topics.orders, [order, order])
    run_service(service_config(kafka_bootstrap, bank.url, topics))

    both = confirmations(kafka_bootstrap, topics, 2)
    # Replaying the whole topic with a fresh group delivers both copies again.
    run_service(service_config(kafka_bootstrap, bank.url, topics))
    all_four = confirmations(kafka_bootstrap, topics, 4, settle=1.0)

    assert len(both) == 2
    assert len(all_four) == 4
    assert {c.order_id for c in all_four} == {order.order_id}
    # Later deliveries are idempotent replays of the first charge, not new charges.
    assert len({c.charge_id for c in all_four}) == 1
    [charge] = server.charges(order.order_id)
    assert charge["charge_id"] == all_four[0].charge_id


def test_garbage_goes_to_the_dead_letter_topic_and_the_next_order_is_confirmed(
    kafka_bootstrap: str, bank: Bank, topics: Topics, run_service: RunService
) -> None:
    server = bank.up()
    order = new_order(server, "ok")
    # Same key, so both land on one partition and the good order comes after the garbage.
    produce(kafka_bootstrap, topics.orders, [(order.order_id.encode(), b"\x00garbage{", None)])
    produce_orders(kafka_bootstrap, topics.orders, [order])
    run_service(service_config(kafka_bootstrap, bank.url, topics))

    [dead] = consume_all(kafka_bootstrap, topics.dead_letters, 1)
    [confirmed] = confirmations(kafka_bootstrap, topics, 1)
    assert dead.value() == b"\x00garbage{"
    headers = dict(dead.headers() or [])
    assert b"not a valid OrderPlaced" in (headers["dlq.error"] or b"")
    assert headers["dlq.original_topic"] == topics.orders.encode()
    assert confirmed.order_id == order.order_id


def test_bank_down_then_up_retries_then_confirms(
    kafka_bootstrap: str, bank: Bank, topics: Topics, run_service: RunService
) -> None:
    order = new_order(bank.up(), "ok")
    bank.down()
    produce_orders(kafka_bootstrap, topics.orders, [order])
    retries_before = retried(topics.orders)
    config = service_config(kafka_bootstrap, bank.url, topics)
    run_service(config)

    wait_for(lambda: retried(topics.orders) - retries_before >= 3, what="retries while down")
    assert committed_total(kafka_bootstrap, config.reading.group_id, topics.orders) == 0
    server = bank.up()
    [confirmed] = confirmations(kafka_bootstrap, topics, 1, settle=1.0)
    assert confirmed.order_id == order.order_id
    [charge] = server.charges(order.order_id)
    assert charge["status"] == "succeeded"


def test_unknown_token_fails_the_payment_visibly(
    kafka_bootstrap: str, bank: Bank, topics: Topics, run_service: RunService
) -> None:
    server = bank.up()
    order = placed(f"ord_{uuid.uuid4().hex[:12]}", token="tok_nobody_has_this")
    produce_orders(kafka_bootstrap, topics.orders, [order])
    run_service(service_config(kafka_bootstrap, bank.url, topics))

    [declined] = declines(kafka_bootstrap, topics, 1)
    assert declined.order_id == order.order_id
    assert declined.decline_code == "payment_failed"
    assert server.charges(order.order_id) == []


def test_health_endpoints_report_the_consumer_loop(
    kafka_bootstrap: str, bank: Bank, topics: Topics, run_service: RunService
) -> None:
    from kafka_restaurants.runtime import HealthServer
    from tests.fixtures.components import free_port

    service = run_service(service_config(kafka_bootstrap, bank.url, topics))
    port = free_port()
    health = HealthServer("transactions", "127.0.0.1", port, lambda: service.running)
    health.start()
    try:
        wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200,
            what="ready",
        )
        service.stop()
        wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 503,
            what="not ready after stop",
        )
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "bank_charge_requests_total" in metrics
    finally:
        health.stop()


def retried(topic: str) -> float:
    """How many times a consumer loop has put a message of `topic` back for a retry."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "kafka_messages_handled"
        for sample in metric.samples
        if sample.name == "kafka_messages_handled_total"
        and sample.labels.get("topic") == topic
        and sample.labels.get("outcome") == "retry"
    )


def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """Messages of `topic` (3 partitions) that `group` has committed past."""
    return sum(max(offset, 0) for offset in committed_offsets(bootstrap, group, topic, 3))
