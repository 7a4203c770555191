"""The audit's kitchen half: how many tickets the kitchen shows for each audited order.

The bench asks the kitchen's HTTP API the way a restaurant's screen does, with each
restaurant's key (made from the kitchen secret in the system's data directory), so a ticket
shown twice on a screen is counted twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import httpx

from kafka_restaurants.bench.config import Target
from kafka_restaurants.bench.order_phases import AuditFindings
from kafka_restaurants.kitchen.access import SECRET_FILE_NAME, kitchen_key

# The kitchen answers at most this many tickets per restaurant; the audit asks for all.
TICKETS_PER_RESTAURANT = 10_000


def kitchen_secret(data_dir: Path | None) -> str | None:
    """The secret `restaurants up`'s kitchen made in the data dir, when there is one."""
    if data_dir is None:
        return None
    path = data_dir / SECRET_FILE_NAME
    return path.read_text().strip() if path.exists() else None


async def tickets_per_order(
    kitchen: httpx.AsyncClient,
    secret: str,
    restaurants: Mapping[str, int],
    expected: set[str],
    patience: float = 60.0,
    concurrency: int = 16,
) -> dict[str, int]:
    """Tickets the kitchen shows for each order in `restaurants` (order -> restaurant).

    Asks again while an order in `expected` (the confirmed ones) has no ticket yet, until
    `patience` runs out: the kitchen follows order_confirm on its own and may lag.
    """
    gate = asyncio.Semaphore(concurrency)
    wanted = set(restaurants)

    async def shown(restaurant_id: int) -> list[str]:
        async with gate:
            response = await kitchen.get(
                f"/restaurants/{restaurant_id}/tickets",
                params={"limit": TICKETS_PER_RESTAURANT},
                headers={"X-Kitchen-Key": kitchen_key(secret, restaurant_id)},
            )
            response.raise_for_status()
            return [t["order_id"] for t in response.json()["tickets"]]

    deadline = time.monotonic() + patience
    while True:
        counts = dict.fromkeys(wanted, 0)
        lists = await asyncio.gather(*(shown(r) for r in sorted(set(restaurants.values()))))
        for order_ids in lists:
            for order_id in order_ids:
                if order_id in counts:
                    counts[order_id] += 1
        missing = [o for o in expected if counts.get(o, 0) == 0]
        if not missing or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(2.0)


async def with_kitchen_tickets(findings: AuditFindings, target: Target) -> AuditFindings:
    """`findings` with each order's kitchen tickets, when the target's kitchen can be asked
    (its address known and its secret in the data dir); unchanged otherwise."""
    secret = kitchen_secret(target.data_dir)
    if target.kitchen is None or secret is None:
        return findings
    confirmed = {o for o, status in findings.statuses.items() if status == "confirmed"}
    async with httpx.AsyncClient(base_url=target.kitchen, timeout=30) as kitchen:
        tickets = await tickets_per_order(kitchen, secret, findings.restaurants, confirmed)
    return replace(findings, tickets=tickets)
