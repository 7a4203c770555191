"""The payment service against a real bank that binds tokens to orders, and checks its key."""

from __future__ import annotations

import uuid

from tests.fixtures.components import wait_for
from tests.integration.transactions.conftest import Bank, Topics, produce_orders, service_config
from tests.integration.transactions.test_payment_service import (
    RunService,
    committed_total,
    confirmations,
    declines,
    new_order,
    retried,
)
from tests.unit.transactions.samples import placed


def test_a_token_made_for_another_order_or_amount_declines_the_order_uncharged(
    kafka_bootstrap: str, bank: Bank, topics: Topics, run_service: RunService
) -> None:
    server = bank.up()
    honest = new_order(server, "ok", total=1000)
    # Someone replays the honest order's token on an order of their own, and a bigger one.
    stolen = placed(f"ord_{uuid.uuid4().hex[:12]}", total=1000, token=honest.payment.token)
    inflated_id = f"ord_{uuid.uuid4().hex[:12]}"
    inflated = placed(inflated_id, total=5000, token=server.token("ok", inflated_id, 1000))
    produce_orders(kafka_bootstrap, topics.orders, [stolen, inflated])
    run_service(service_config(kafka_bootstrap, bank.url, topics))

    found = {d.order_id: d for d in declines(kafka_bootstrap, topics, 2)}
    assert found[stolen.order_id].decline_code == "token_reference_mismatch"
    assert found[inflated.order_id].decline_code == "amount_over_token_limit"
    for declined in found.values():
        assert declined.reason.endswith("Please place the order again.")
    assert server.charges(stolen.order_id)[0]["status"] == "declined"
    # The honest order still pays with its token: the refusals used nothing.
    produce_orders(kafka_bootstrap, topics.orders, [honest])
    [confirmed] = confirmations(kafka_bootstrap, topics, 1)
    assert confirmed.order_id == honest.order_id


def test_a_payment_service_the_bank_does_not_know_retries_and_declines_nothing(
    kafka_bootstrap: str, bank: Bank, topics: Topics, run_service: RunService
) -> None:
    server = bank.up()
    order = new_order(server, "ok")
    produce_orders(kafka_bootstrap, topics.orders, [order])
    retries_before = retried(topics.orders)
    config = service_config(kafka_bootstrap, bank.url, topics, bank_api_key="not-the-key-0000")
    run_service(config)
    wait_for(
        lambda: retried(topics.orders) - retries_before >= 2, what="the 401 retried, not declined"
    )
    assert committed_total(kafka_bootstrap, config.reading.group_id, topics.orders) == 0
    assert declines(kafka_bootstrap, topics, 0, settle=0.5) == []
    assert server.charges(order.order_id) == []
