"""The payment service's batch bank calls against a real broker and bank: whole-call failures."""

from __future__ import annotations

import httpx

from tests.fixtures.bank import AS_TRANSACTIONS
from tests.fixtures.components import wait_for
from tests.integration.transactions.conftest import Bank, Topics, produce_orders, service_config
from tests.integration.transactions.test_payment_service import (
    RunService,
    committed_total,
    confirmations,
    new_order,
    retried,
)


def test_failed_batch_calls_retry_every_order_and_never_charge_twice(
    kafka_bootstrap: str, bank: Bank, topics: Topics, run_service: RunService
) -> None:
    first_server = bank.up()
    orders = [new_order(first_server, "ok", total=1000 + i) for i in range(12)]
    # A call whose answer was lost: the bank charged these orders, the service never heard.
    lost = [
        {
            "idempotency_key": o.order_id,
            "token": o.payment.token,
            "amount": o.order.total_minor,
            "currency": o.order.currency,
            "reference": o.order_id,
        }
        for o in orders[:5]
    ]
    answer = httpx.post(
        f"{bank.url}/v1/charges/batch",
        json={"charges": lost},
        headers=AS_TRANSACTIONS,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    charged_first = {
        o.order_id: r["body"]["charge_id"] for o, r in zip(orders[:5], results, strict=True)
    }
    bank.down()
    # Now the bank hangs and answers 504 to every batch call.
    server = bank.up(BANK_TIMEOUT_RATE=1.0, BANK_TIMEOUT_SECONDS=0.1)

    produce_orders(kafka_bootstrap, topics.orders, orders)
    retries_before = retried(topics.orders)
    config = service_config(kafka_bootstrap, bank.url, topics)
    run_service(config)
    wait_for(
        lambda: retried(topics.orders) - retries_before >= 2 * len(orders),
        what="every order retried after failed batch calls",
    )
    assert committed_total(kafka_bootstrap, config.reading.group_id, topics.orders) == 0
    assert server.charges(orders[-1].order_id) == []

    bank.down()
    server = bank.up()
    confirmed = confirmations(kafka_bootstrap, topics, len(orders), settle=1.0)
    assert sorted(c.order_id for c in confirmed) == sorted(o.order_id for o in orders)
    for order in orders:
        [charge] = server.charges(order.order_id)
        assert charge["amount"] == order.order.total_minor
        [event] = [c for c in confirmed if c.order_id == order.order_id]
        assert event.charge_id == charge["charge_id"]
        if order.order_id in charged_first:
            assert charge["charge_id"] == charged_first[order.order_id]
