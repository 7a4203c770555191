"""Bounded retries against a real broker and a real bank: a payment that keeps failing ends."""

from __future__ import annotations

from typing import Any

import pytest

from kafka_restaurants.events import encode
from tests.fixtures.components import wait_for
from tests.fixtures.kafka_io import consume_all
from tests.integration.transactions.conftest import Bank, Topics, produce_orders, service_config
from tests.integration.transactions.test_payment_service import (
    RunService,
    committed_total,
    confirmations,
    declines,
    new_order,
)


@pytest.mark.parametrize(
    "bank_faults",
    [{"BANK_TRANSIENT_FAILURES": 100}, {"BANK_ERROR_RATE": 1.0}],
    ids=["flaky-card-past-the-limit", "every-charge-errors"],
)
def test_a_payment_the_bank_keeps_failing_ends_failed_uncharged_and_dead_lettered(
    kafka_bootstrap: str,
    bank: Bank,
    topics: Topics,
    run_service: RunService,
    bank_faults: dict[str, Any],
) -> None:
    server = bank.up(**bank_faults)
    order = new_order(server, "flaky")
    produce_orders(kafka_bootstrap, topics.orders, [order])
    config = service_config(kafka_bootstrap, bank.url, topics, max_attempts=3)
    run_service(config)

    [failed] = declines(kafka_bootstrap, topics, 1)
    assert failed.order_id == order.order_id
    assert failed.decline_code == "payment_failed"  # the api shows this as status `failed`
    assert failed.reason == "We couldn't process your payment. You were not charged."
    [dead] = consume_all(kafka_bootstrap, topics.dead_letters, 1)
    assert dead.value() == encode(order).value
    assert dead.key() == order.order_id.encode()
    reason = dict(dead.headers() or [])["dlq.error"] or b""
    assert reason.startswith(b"gave up after 3 attempts (bank answered")
    wait_for(
        lambda: committed_total(kafka_bootstrap, config.reading.group_id, topics.orders) == 1,
        what="the order's offset committed with its result",
    )
    assert server.charges(order.order_id) == []
    assert confirmations(kafka_bootstrap, topics, 0, settle=0.5) == []


def test_a_bank_that_cannot_say_whether_it_charged_leaves_the_order_for_reconciliation(
    kafka_bootstrap: str, bank: Bank, topics: Topics, run_service: RunService
) -> None:
    order = new_order(bank.up(), "ok")
    bank.down()  # no charge answer and no lookup answer either
    produce_orders(kafka_bootstrap, topics.orders, [order])
    config = service_config(kafka_bootstrap, bank.url, topics, max_attempts=3)
    run_service(config)

    [dead] = consume_all(kafka_bootstrap, topics.dead_letters, 1)
    assert dead.key() == order.order_id.encode()
    assert b"left for reconciliation" in (dict(dead.headers() or [])["dlq.error"] or b"")
    wait_for(
        lambda: committed_total(kafka_bootstrap, config.reading.group_id, topics.orders) == 1,
        what="the order's offset committed past",
    )
    # No result either way: the order stays pending until reconciliation asks the bank.
    assert declines(kafka_bootstrap, topics, 0, settle=1.0) == []
    assert confirmations(kafka_bootstrap, topics, 0) == []
