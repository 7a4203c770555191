"""How many orders a second one payment service instance settles against the real bank.

    .venv/bin/python -m tests.integration.transactions.bench_charges --orders 2000

Runs a throwaway broker (or uses --bootstrap), the bank as its own process (`restaurants serve
bank`, own SQLite file), and the payment service in a third process; produces a burst of
OrderPlaced events first, then starts the service and times it until every offset is committed.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import multiprocessing.synchronize
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from kafka_restaurants.localbroker.broker import ensure_topics
from kafka_restaurants.messaging.service import ConsumerProcess
from kafka_restaurants.transactions.app import TransactionsConfig, order_reader, payment_service
from kafka_restaurants.transactions.charging import OutputTopics
from tests.fixtures.bank import AS_API, BANK_KEYS, TRANSACTIONS_KEY
from tests.fixtures.components import free_port, wait_for
from tests.fixtures.kafka import kafka_libs_or_skip, running_broker
from tests.fixtures.kafka_io import committed_offsets, consume_all
from tests.integration.transactions.conftest import CARDS, produce_orders
from tests.unit.transactions.samples import placed

PARTITIONS = 6  # as the production `order` topic


@contextlib.contextmanager
def broker(bootstrap: str | None, data_dir: Path) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    with running_broker(data_dir / "kafka", kafka_libs_or_skip()) as running:
        yield running.bootstrap


@contextlib.contextmanager
def bank_process(data_dir: Path, latency_ms: int) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "BANK_PORT": str(port),
        "HOST": "127.0.0.1",
        "DATA_DIR": str(data_dir),
        "BANK_DATABASE_URL": f"sqlite:///{data_dir / 'bank.sqlite'}",
        "BANK_LATENCY_MS": str(latency_ms),
        "BANK_ERROR_RATE": "0",
        "BANK_TIMEOUT_RATE": "0",
        "LOG_LEVEL": "WARNING",
        **BANK_KEYS,
    }
    log = (data_dir / "bank.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "kafka_restaurants.cli.main", "serve", "bank"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{url}/readyz", timeout=1).status_code == 200, 60, what="bank")
        yield url
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def order_token(client: httpx.Client, order_id: str) -> str:
    """A test card's token for one order (the samples' total, 2550 EUR)."""
    card = {"number": CARDS["ok"], "exp_month": 12, "exp_year": 2099, "cvc": "123"}
    terms = {"reference": order_id, "max_amount": 2550, "currency": "EUR"}
    response = client.post("/v1/tokens", json={**card, **terms})
    response.raise_for_status()
    return str(response.json()["token"])


def run_service(config: TransactionsConfig, stop: multiprocessing.synchronize.Event) -> None:
    import logging
    import threading

    logging.basicConfig(level=logging.WARNING)
    service = ConsumerProcess(payment_service(config))

    def stop_when_asked() -> None:
        stop.wait()
        service.stop()

    threading.Thread(target=stop_when_asked, daemon=True).start()
    service.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--bootstrap", help="an existing cluster (default: a throwaway broker)")
    parser.add_argument("--bank-latency-ms", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-charges-") as tmp:
        data_dir = Path(tmp)
        with (
            broker(args.bootstrap, data_dir) as bootstrap,
            bank_process(data_dir, args.bank_latency_ms) as bank_url,
        ):
            base = f"bench-{uuid.uuid4().hex[:8]}"
            topics = OutputTopics(confirmed=f"{base}-confirm", declined=f"{base}-declined")
            orders_topic = f"{base}-order"
            ensure_topics(
                bootstrap,
                {
                    orders_topic: PARTITIONS,
                    f"{orders_topic}.DLQ": 1,
                    topics.confirmed: 3,
                    topics.declined: 3,
                },
            )
            # A token per order, bound to it, as the api makes them.
            with httpx.Client(base_url=bank_url, headers=AS_API) as client:
                orders = [
                    placed(order_id, token=order_token(client, order_id))
                    for order_id in (f"ord_{base}_{i}" for i in range(args.orders))
                ]
            produce_orders(bootstrap, orders_topic, orders)
            config = TransactionsConfig(
                reading=order_reader(bootstrap, f"{base}-tx", orders_topic),
                bank_url=bank_url,
                bank_api_key=TRANSACTIONS_KEY,
                outputs=topics,
                concurrency=args.concurrency,
            )
            stop = multiprocessing.get_context("spawn").Event()
            worker = multiprocessing.get_context("spawn").Process(
                target=run_service, args=(config, stop)
            )
            started = time.monotonic()
            worker.start()
            wait_for(
                lambda: (
                    sum(
                        max(o, 0)
                        for o in committed_offsets(
                            bootstrap, config.reading.group_id, orders_topic, PARTITIONS
                        )
                    )
                    >= args.orders
                ),
                timeout=600,
                interval=0.2,
                what="every order committed",
            )
            wall = time.monotonic() - started
            stop.set()
            worker.join(30)
            out = consume_all(bootstrap, topics.confirmed, args.orders, timeout=60)
            stamps = sorted(m.timestamp()[1] for m in out)
            steady = (stamps[-1] - stamps[0]) / 1000 if len(stamps) > 1 else float("nan")
            print(f"orders: {args.orders}, confirmed: {len(out)}")
            print(
                f"from service start (incl. process start + group join): {wall:.2f}s "
                f"= {args.orders / wall:.0f} orders/s"
            )
            print(f"first to last confirmation: {steady:.2f}s = {len(out) / steady:.0f} orders/s")


if __name__ == "__main__":
    main()
