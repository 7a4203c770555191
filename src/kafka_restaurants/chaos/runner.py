"""Composition root of `restaurants chaos`: start a system, load it, do the faults, audit it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from random import Random
from typing import Any

import httpx

from kafka_restaurants.bank.keys import bearer, operator_key
from kafka_restaurants.bench.order_phases import OrderBench, order_states
from kafka_restaurants.bench.orders_load import (
    Mailbox,
    OrderDriver,
    PlacedOrder,
    load_menu_choices,
)
from kafka_restaurants.bench.postgres import LocalPostgres
from kafka_restaurants.bench.rawhttp import ConnectionPool
from kafka_restaurants.bench.stats import latency_summary
from kafka_restaurants.bench.system import BenchSystem, _port_pair, start_system
from kafka_restaurants.chaos.faults import (
    BankBurst,
    DatabaseOutage,
    Disruption,
    Injected,
    run_schedule,
)
from kafka_restaurants.chaos.groups import Members, wait_for_members
from kafka_restaurants.chaos.schedule import KILL, PAUSE, SKIP, ChaosConfig
from kafka_restaurants.chaos.verdict import judge
from kafka_restaurants.messaging.consumer import SESSION_TIMEOUT_SECONDS

Say = Callable[[str], None]
FINAL = ("confirmed", "declined", "failed")


def system_overrides(config: ChaosConfig) -> dict[str, str]:
    """Settings of the system under chaos: several consumer instances, one load generator."""
    return {
        "TRANSACTIONS_INSTANCES": str(config.instances),
        "MAILER_INSTANCES": str(config.instances),
        # Instances take consecutive health ports.
        "TRANSACTIONS_HEALTH_PORT": str(_consecutive_ports(config.instances)),
        "MAILER_HEALTH_PORT": str(_consecutive_ports(config.instances)),
        # Every order comes from one address here; the per-client limit is for browsers.
        "API_ORDER_RATE_PER_CLIENT": "0",
        # The inbox must hold every confirmation of the run for the audit to count them.
        "MAILBOX_MAX_MESSAGES": "1000000",
        "MAILBOX_MAX_BYTES": str(2 * 1024**3),
    }


def _consecutive_ports(count: int) -> int:
    if count <= 2:
        return _port_pair()
    raise ValueError("the chaos run needs at most two instances of each consumer")


async def settle(
    api: httpx.AsyncClient,
    bank: httpx.AsyncClient,
    mailbox: Mailbox,
    orders: Sequence[PlacedOrder],
    deadline: float,
) -> tuple[dict[str, str], dict[str, int], float | None]:
    """Poll until every accepted order is final and each confirmed one mailed, or the deadline;
    returns statuses, charges and when everything had settled (None: it never did)."""
    accepted = [o for o in orders if o.accepted]
    statuses: dict[str, str] = {}
    charges: dict[str, int] = {}
    waiting = accepted
    while True:
        await order_states(api, bank, waiting, statuses, charges)
        waiting = [o for o in accepted if statuses[o.order_id] not in FINAL]
        unmailed = [
            o
            for o in accepted
            if statuses[o.order_id] == "confirmed" and not mailbox.count(o.email)
        ]
        if not waiting and not unmailed:
            return statuses, charges, time.time()
        if time.time() >= deadline:
            return statuses, charges, None
        await asyncio.sleep(1.0)
        await mailbox.poll()


def _injected_record(done: Injected, t0: float) -> dict[str, Any]:
    return {
        "at_s": round(done.started - t0, 1),
        "kind": done.fault.kind,
        "action": done.fault.action,
        "target": done.fault.target,
        "duration_s": done.fault.duration,
        "pid": done.pid,
        "new_pid": done.new_pid,
        "took_s": round(done.ended - done.started, 1),
        "done": done.done,
        "error": done.error,
    }


async def run_chaos(config: ChaosConfig, say: Say = print) -> dict[str, Any]:
    """The whole run: start, load and faults, settle, audit; returns the results."""
    started_at = datetime.now(UTC)
    began = time.monotonic()
    say("Chaos schedule (seconds after the first order):")
    for fault in sorted(config.faults, key=lambda f: f.at):
        say("  " + fault.describe())
    say(
        f"Load: {config.rate:.0f} orders/s for {config.seconds:.0f}s, every "
        f"{config.decline_every}th declined; {config.instances} transactions and mailer instances."
    )
    database = LocalPostgres() if config.postgres else None
    overrides = system_overrides(config)
    disruptions: dict[str, Disruption] = {}
    if database is not None:
        say(f"Starting PostgreSQL for the system ({database.dir})...")
        overrides["DATABASE_URL"] = await asyncio.to_thread(database.start)
        disruptions["postgresql"] = DatabaseOutage(database)
    failed = True
    try:
        say("Starting the system (seed, restaurants up --detach)...")
        system = await asyncio.to_thread(start_system, config.restaurants, None, **overrides)
        try:
            results = await _measure(config, system, disruptions, say)
            failed = False
        finally:
            say("Stopping the system...")
            await asyncio.to_thread(system.stop, config.keep_data or failed)
            if failed or config.keep_data:
                say(f"The chaos system's files are in {system.target.data_dir}")
    finally:
        if database is not None:
            keep = failed or config.keep_data
            await asyncio.to_thread(database.stop if keep else database.remove)
            if keep:
                say(f"The chaos database's files are in {database.dir}")
    return {
        "schema": 1,
        "quick": config.quick,
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - began, 1),
        "config": {
            "rate_per_s": config.rate,
            "seconds": config.seconds,
            "settle_seconds": config.settle_seconds,
            "instances": config.instances,
            "decline_every": config.decline_every,
            "database": "postgresql" if config.postgres else "sqlite",
        },
        **results,
    }


async def _measure(
    config: ChaosConfig, system: BenchSystem, disruptions: dict[str, Disruption], say: Say
) -> dict[str, Any]:
    target = system.target
    active = [f for f in config.faults if f.action != SKIP]
    async with (
        httpx.AsyncClient(base_url=target.api, timeout=30) as api,
        # Short: the inbox is paused during the SMTP outage and polls must not hang on it.
        httpx.AsyncClient(base_url=target.mailbox, timeout=3) as mailbox_client,
        # The audit lists charges by reference: the operator's key (restaurants up made it).
        httpx.AsyncClient(
            base_url=target.bank, timeout=30, headers=bearer(operator_key(target.data_dir))
        ) as bank,
    ):
        disruptions = {
            **disruptions,
            # A third of the charges refused, one in twenty hung: within what the payment
            # service retries, so each order still ends final.
            "bank": BankBurst(bank, error_rate=0.3, timeout_rate=0.05),
        }
        choices = await load_menu_choices(api, config.restaurants, Random(3))
        pool = ConnectionPool(target.api, 256, timeout=30)
        driver = OrderDriver(pool, choices, uuid.uuid4().hex[:8], config.decline_every)
        mailbox = Mailbox(mailbox_client, driver.domain)
        await mailbox.poll()
        watcher_state = OrderBench(driver, mailbox, None, lambda: None, lambda: 0.0, _quiet)
        watcher = asyncio.create_task(watcher_state.watch())
        groups = await asyncio.to_thread(wait_for_members, target.bootstrap, config.instances)
        say("Consumer groups: " + "; ".join(f"{g}: {held}" for g, held in groups.items()))
        pids_before = system.pids()
        t0 = time.time()
        say(f"Offering orders; {len(active)} faults to inject.")

        def report(done: Injected) -> None:
            outcome = "ok" if done.done else f"FAILED: {done.error}"
            say(
                f"  {done.started - t0:5.1f}s  {done.fault.describe().split(': ', 1)[1]}: {outcome}"
            )

        try:
            step, injected = await asyncio.gather(
                driver.run_step("chaos", config.rate, config.seconds),
                run_schedule(active, system.pids, t0, report, disruptions),
            )
            load_end = time.time()
            say(f"Load over: {len(step.orders)} orders sent. Waiting for every order to settle...")
            statuses, charges, settled_at = await settle(
                api, bank, mailbox, driver.all_orders, load_end + config.settle_seconds
            )
            # Late copies of a mail (a paused mailer waking up) would arrive about now.
            await asyncio.sleep(3.0)
            await mailbox.poll()
        finally:
            watcher_state.stop()
            await watcher
            await pool.close()
    pids_after = system.pids()
    results = _results(
        config,
        driver,
        mailbox,
        step,
        injected,
        statuses,
        charges,
        settled_at,
        t0,
        load_end,
        watcher_state,
        pids_before,
        pids_after,
        groups,
    )
    results["supervisor_events"] = supervisor_events(system)
    return results


def supervisor_events(system: BenchSystem) -> list[str]:
    """What the supervisor said during the run: each exit it saw, with the exit code."""
    if system.target.data_dir is None:
        return []
    try:
        text = (system.target.data_dir / "log" / "supervisor.log").read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if "exited" in line or "giving up" in line]


def _quiet(_description: str, _seconds: float) -> None:
    return None


def _results(
    config: ChaosConfig,
    driver: OrderDriver,
    mailbox: Mailbox,
    step: Any,
    injected: list[Injected],
    statuses: dict[str, str],
    charges: dict[str, int],
    settled_at: float | None,
    t0: float,
    load_end: float,
    watcher: OrderBench,
    pids_before: dict[str, int],
    pids_after: dict[str, int],
    groups: Members,
) -> dict[str, Any]:
    orders = driver.all_orders
    accepted = [o for o in orders if o.accepted]
    emails = {
        o.order_id: [seen.created for seen in mailbox.by_address.get(o.email.lower(), [])]
        for o in accepted
    }
    mailer_kills = mailer_crashes(injected, t0)
    smtp_outages = [
        (f"SMTP outage {d.started - t0:.1f}-{d.ended - t0:.1f}s", d.ended)
        for d in injected
        if d.fault.target == "mailbox"
    ]
    verdict = judge(
        statuses,
        charges,
        emails,
        mailer_kills,
        [f"{d.fault.kind} ({d.fault.target}): {d.error}" for d in injected if not d.done],
        [
            f"consumer group {group} had members holding {held} before the faults, "
            f"not {config.instances} members each holding partitions"
            for group, held in groups.items()
            if len(held) != config.instances or not all(held)
        ],
        smtp_outages,
    )
    last_fault_end = max((d.ended for d in injected), default=t0)
    refused: dict[str, int] = {}
    for order in orders:
        if not order.accepted:
            reason = (
                str(order.status_code) if order.status_code else (order.error.split(":")[0] or "?")
            )
            refused[reason] = refused.get(reason, 0) + 1
    confirmed = [o for o, s in statuses.items() if s == "confirmed"]
    return {
        "passed": verdict.passed,
        "faults": {
            "injected": [
                _injected_record(d, t0) for d in sorted(injected, key=lambda d: d.started)
            ],
            "skipped": [
                {"kind": f.kind, "reason": f.reason} for f in config.faults if f.action == SKIP
            ],
        },
        "orders": {
            "offered": len(orders),
            "achieved_rate_per_s": round(step.achieved_rate, 2),
            "accepted": len(accepted),
            "refused": refused,
            "final": sum(1 for s in statuses.values() if s in FINAL),
            "confirmed": len(confirmed),
            "declined": verdict.totals["declined"],
            "failed": verdict.totals["failed"],
            "charges_per_order_max": max(charges.values(), default=0),
            "emails_per_confirmed_order": _histogram(len(emails[o]) for o in confirmed),
            "post_latency_ms": latency_summary([(o.answered - o.due) * 1000 for o in orders]),
            "settled_after_last_fault_s": (
                round(settled_at - last_fault_end, 1) if settled_at is not None else None
            ),
            "settled_after_load_s": (
                round(settled_at - load_end, 1) if settled_at is not None else None
            ),
        },
        "audit": verdict.as_dict(),
        "consumer_groups_before_faults": groups,
        "restarted_processes": sorted(
            name for name, pid in pids_before.items() if pids_after.get(name) != pid
        ),
        "t0": t0,
        "load_end": load_end,
        "timeseries": [asdict(s) for s in watcher.samples],
    }


def mailer_crashes(injected: Sequence[Injected], t0: float) -> list[tuple[str, float]]:
    """The faults that end a mailer instance's hold on its partitions mid-send: a SIGKILL, and
    a pause past its consumer session (the group drops it as dead, another instance takes its
    partitions and resends what it sent but had not recorded: at most one per connection)."""
    return [
        (f"{d.fault.describe().split(': ', 1)[1]} at {d.started - t0:.1f}s", d.started)
        for d in injected
        if d.fault.target.startswith("mailer")
        and (
            d.fault.action == KILL
            or (d.fault.action == PAUSE and d.fault.duration > SESSION_TIMEOUT_SECONDS)
        )
    ]


def _histogram(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return dict(sorted(counts.items()))
