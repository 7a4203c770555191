"""Composition root of `make bench`: start or attach the system, run every phase, write it down."""

from __future__ import annotations

import asyncio
import contextlib
import platform
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime
from random import Random
from typing import Any

import httpx
import psutil

from kafka_restaurants.bank.keys import bearer, operator_key
from kafka_restaurants.bench.config import BenchConfig
from kafka_restaurants.bench.kafka_probe import LagProbe, kafka_roundtrip
from kafka_restaurants.bench.kitchen_audit import with_kitchen_tickets
from kafka_restaurants.bench.order_phases import OrderBench, audit_findings
from kafka_restaurants.bench.orders_load import Mailbox, OrderDriver, load_menu_choices
from kafka_restaurants.bench.profiling import record_profiles
from kafka_restaurants.bench.progress import PhaseProgress
from kafka_restaurants.bench.rawhttp import ConnectionPool
from kafka_restaurants.bench.resources import cpu_delta, cpu_seconds, machine_info, peak, rss_mb
from kafka_restaurants.bench.search_phase import SearchPhase
from kafka_restaurants.bench.stats import ratio
from kafka_restaurants.bench.system import BenchSystem, attach_system, start_system

PHASES = 9


def _git() -> dict[str, Any]:
    def run(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": run("rev-parse", "HEAD") or "unknown",
        "dirty": bool(run("status", "--porcelain")),
    }


@contextlib.asynccontextmanager
async def _ticking(progress: PhaseProgress) -> AsyncIterator[None]:
    async def tick() -> None:
        while True:
            progress.tick()
            await asyncio.sleep(0.25)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()


class Run:
    """One benchmark run against one system."""

    def __init__(self, config: BenchConfig, system: BenchSystem, progress: PhaseProgress) -> None:
        self.config = config
        self.system = system
        self.progress = progress
        self.memory_readings: list[dict[str, float]] = []
        self.results: dict[str, Any] = {}

    def _rss(self) -> dict[str, float]:
        return rss_mb(self.system.pids())

    def _system_cpu(self) -> float:
        return cpu_seconds(self.system.pids())["total"]

    def _rss_under_load(self) -> float | None:
        reading = self._rss()
        self.memory_readings.append(reading)
        return reading.get("total")

    async def measure(self) -> dict[str, Any]:
        """Every phase after start-up, in order; returns the result sections."""
        target = self.system.target
        pids_at_start = self.system.pids()
        self.progress.phase("memory at idle")
        self.progress.step("letting the system settle", 3)
        await asyncio.sleep(3)
        idle = self._rss()
        self.progress.phase("search and the bare FastAPI reference")
        phase = SearchPhase(self.config, self.progress, self.system.pids, self.memory_readings)
        search, fastapi = await phase.measure(target.api)
        self.progress.phase("raw Kafka round trip reference")
        self.progress.step(f"{self.config.kafka_messages} messages", 5)
        roundtrip = await asyncio.to_thread(
            kafka_roundtrip, target.bootstrap, self.config.kafka_messages
        )
        orders, cpu = await self.order_phases()
        memory_load = peak(self.memory_readings) if self.memory_readings else {}
        # A process the supervisor had to restart mid-run makes the numbers suspect: say so.
        pids_at_end = self.system.pids()
        self.results["restarted_processes"] = sorted(
            name for name, pid in pids_at_start.items() if pids_at_end.get(name) != pid
        )
        return {
            "search": search,
            "orders": orders,
            "reference": {
                "fastapi_rps": fastapi["rps"],
                "fastapi_latency_ms": fastapi["latency_ms"],
                "fastapi_runs": fastapi["runs"],
                "kafka_roundtrip_msgs_per_s": round(roundtrip.msgs_per_s, 1),
                "kafka_roundtrip_messages": roundtrip.messages,
                "kafka_roundtrip_seconds": round(roundtrip.seconds, 3),
            },
            "ratios": {
                "search_vs_fastapi": ratio(search["rps"], fastapi["rps"]),
                "orders_vs_kafka_roundtrip": ratio(orders["sustained_per_s"], roundtrip.msgs_per_s),
            },
            "memory_mb": {
                "total_idle": idle.get("total"),
                "total_load": memory_load.get("total"),
                "idle": idle,
                "load": memory_load,
            },
            "cpu_ms_per_order": cpu["ms_per_order"],
            "cpu": cpu,
        }

    async def _overload(
        self, bench: OrderBench, sustained: float | None, settle: float
    ) -> dict[str, Any]:
        """The overload step, at overload_factor x the sustained rate."""
        config = self.config
        self.progress.phase(f"orders: overload at {config.overload_factor:g}x the sustained rate")
        # With no rate sustained (a slow or busy box), the highest step that held, else the
        # first probe's rate, stands in for it; the report says which.
        held = [s["offered_rate_per_s"] for s in bench.steps if s["sustained"]]
        base = sustained or max(held, default=float(config.probe_start_rate))
        overload = await bench.overload(
            base,
            config.overload_factor,
            config.overload_seconds,
            config.overload_max_orders,
            settle,
        )
        overload["base"] = "sustained" if sustained else "stand-in (nothing sustained)"
        return overload

    async def order_phases(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Latency sweep, sustained-rate search, audit; with CPU per completed order."""
        config, target = self.config, self.system.target
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with (
            httpx.AsyncClient(base_url=target.api, timeout=60, limits=limits) as api,
            httpx.AsyncClient(base_url=target.mailbox, timeout=30) as mailbox_client,
            # The audit looks charges up by reference: the operator's key (restaurants up made it).
            httpx.AsyncClient(
                base_url=target.bank, timeout=30, headers=bearer(operator_key(target.data_dir))
            ) as bank,
        ):
            # Open loop: a request waits for a free connection, and its latency counts from
            # the moment it was due, so waiting shows up in the numbers.
            orders_pool = ConnectionPool(target.api, 256)
            choices = await load_menu_choices(api, self.system.catalog_size or 1000, Random(3))
            driver = OrderDriver(orders_pool, choices, uuid.uuid4().hex[:8], config.decline_every)
            mailbox = Mailbox(mailbox_client, driver.domain)
            await mailbox.poll()
            lag_probe = LagProbe(target.bootstrap)
            bench = OrderBench(
                driver,
                mailbox,
                lag_probe,
                self._rss_under_load,
                self._system_cpu,
                self.progress.step,
            )
            watcher = asyncio.create_task(bench.watch())
            me = psutil.Process()
            cpu_before, my_before = cpu_seconds(self.system.pids()), me.cpu_times()
            settle = 180.0 if not config.quick else 30.0
            headline_rate = 300 if 300 in config.latency_rates else max(config.latency_rates)
            try:
                self.progress.phase("orders: latency at fixed offered rates")
                skipped = await bench.latency_sweep(
                    config.latency_rates,
                    headline_rate,
                    config.latency_seconds,
                    config.drain_seconds,
                    settle,
                )
                self.progress.phase("orders: highest rate sustained with zero loss")
                sustained = await bench.find_sustained(
                    config.probe_start_rate,
                    config.probe_max_rate,
                    config.probe_seconds,
                    config.sustain_seconds,
                    config.sustain_steps,
                    config.drain_seconds,
                    settle,
                    self._profiler if config.profile else None,
                )
                await bench.settle(settle)
                first_overload = len(driver.all_orders)
                overload = await self._overload(bench, sustained, settle)
                overload_ids = [
                    o.order_id for o in driver.all_orders[first_overload:] if o.accepted
                ]
                await bench.settle(settle)
            finally:
                bench.stop()
                await watcher
                lag_probe.close()
                await orders_pool.close()
            cpu = cpu_delta(cpu_before, cpu_seconds(self.system.pids()))
            my_after = me.cpu_times()
            self.progress.phase("audit: every order, charge and email")
            self.progress.step(
                f"checking {len(driver.all_orders)} orders", len(driver.all_orders) / 300
            )
            findings = await audit_findings(api, bank, mailbox, driver.all_orders)
            findings = await with_kitchen_tickets(findings, target)
            result = findings.result()
            overload_audit = findings.result(overload_ids)
            overload["audit"] = {**asdict(overload_audit), "lost": overload_audit.lost}
            overload["lost"] = overload_audit.lost
            # Refused means nothing written: no refused order may ever be mailed.
            overload["emails_for_refused"] = sum(
                1
                for o in driver.all_orders[first_overload:]
                if not o.accepted and mailbox.count(o.email)
            )
        completed = result.confirmed + result.declined
        headline = next(
            s
            for s in bench.steps
            if s["label"] == "latency" and s["offered_rate_per_s"] == headline_rate
        )
        orders = {
            "sustained_per_s": sustained,
            "e2e_latency_ms": headline["e2e_latency_ms"],
            "latency_rate_per_s": headline_rate,
            "lost": result.lost,
            "double_charged": result.double_charged,
            "duplicate_emails": result.duplicate_emails + result.emails_for_declined,
            # Exactly one kitchen ticket per confirmed order (None: the kitchen was not asked).
            "ticket_mismatches": result.ticket_mismatches if result.kitchen_checked else None,
            "audit": {**asdict(result), "lost": result.lost},
            "steps": bench.steps,
            "skipped_latency_rates": skipped,
            "overload": overload,
            "mailbox_polls": mailbox.polls,
        }
        self.results["timeseries"] = [asdict(s) for s in bench.samples]
        generator_seconds = round(
            (my_after.user + my_after.system) - (my_before.user + my_before.system), 3
        )
        cpu_report = {
            "seconds_by_process": cpu,
            "orders_completed": completed,
            "ms_per_order": round(cpu["total"] * 1000 / completed, 3) if completed else None,
            "ms_per_order_by_process": {
                name: round(seconds * 1000 / completed, 3) for name, seconds in cpu.items()
            }
            if completed
            else None,
            "generator_seconds": generator_seconds,
            "generator_ms_per_order": (
                round(generator_seconds * 1000 / completed, 3) if completed else None
            ),
        }
        return orders, cpu_report

    async def _profiler(self, seconds: float) -> None:
        top = await record_profiles(self.system.pids(), seconds, self.config.results_dir)
        self.results["profile"] = top


async def run_benchmark(config: BenchConfig, progress: PhaseProgress) -> dict[str, Any]:
    """Start (or attach to) the system, measure everything, stop what we started."""
    started = datetime.now(UTC)
    began = time.monotonic()
    machine = machine_info()
    progress.phase("starting the system" if config.target is None else "attaching")
    async with _ticking(progress):
        if config.target is None:
            progress.step(f"seeding {config.restaurants} restaurants, restaurants up --detach", 60)
            system = await asyncio.to_thread(start_system, config.restaurants)
        else:
            system = attach_system(config.target)
        failed = True
        try:
            run = Run(config, system, progress)
            measured = await run.measure()
            failed = False
        finally:
            progress.phase("stopping the system")
            progress.step("restaurants down", 10)
            # After a failure the logs say why: keep them.
            await asyncio.to_thread(system.stop, config.keep_data or failed)
            if failed and system.owned:
                progress.log(f"bench system's files kept in {system.target.data_dir}")
    results: dict[str, Any] = {
        "schema": 1,
        "quick": config.quick,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - began, 1),
        "git": _git(),
        "machine": {
            **asdict(machine),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "config": {
            k: (str(v) if not isinstance(v, int | float | bool | tuple) else v)
            for k, v in asdict(config).items()
        },
        "system": {
            "owned": system.owned,
            "catalog_restaurants": system.catalog_size,
            "api": system.target.api,
            "bootstrap": system.target.bootstrap,
        },
        **measured,
        **run.results,
    }
    return results
