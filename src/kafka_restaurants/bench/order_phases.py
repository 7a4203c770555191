"""The order benchmark's phases: latency at fixed rates, the sustained-rate search, the audit."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from kafka_restaurants.bench.kafka_probe import LagProbe
from kafka_restaurants.bench.orders_load import (
    Mailbox,
    OrderDriver,
    OrderStep,
    PlacedOrder,
    send_retrying,
)
from kafka_restaurants.bench.resources import CpuWindow
from kafka_restaurants.bench.stats import (
    UNREACHABLE,
    AuditResult,
    OverloadAnswer,
    RateSearch,
    StepOutcome,
    allowed_drain,
    audit_orders,
    latency_summary,
    overload_summary,
    step_sustained,
)

OnStep = Callable[[str, float], None]  # (description, expected seconds)


@dataclass
class Sample:
    """One second of the run, for the over-time plot."""

    t: float
    sent: int
    accepted: int
    awaiting_email: int  # accepted, to be confirmed, no email yet: the pipeline's backlog
    emailed: int
    in_flight: int  # POSTs sent and not answered yet
    lag: dict[str, int | None]
    rss_total_mb: float | None


@dataclass
class OrderBench:
    """Drives the order pipeline and keeps everything it observed."""

    driver: OrderDriver
    mailbox: Mailbox
    lag_probe: LagProbe | None
    rss_total: Callable[[], float | None]
    system_cpu: Callable[[], float]
    on_step: OnStep
    steps: list[dict[str, Any]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    _stop: bool = False

    # -- background watchers ----------------------------------------------------------------

    async def watch(self) -> None:
        """Poll the mailbox every 200 ms and sample throughput and lag every second."""
        next_sample = time.time()
        while not self._stop:
            # A slow mailbox only delays detection: latency uses the mailbox's own timestamps.
            with contextlib.suppress(httpx.HTTPError):
                await self.mailbox.poll()
            if time.time() >= next_sample:
                next_sample += 1.0
                await self._sample()
            await asyncio.sleep(0.2)

    async def _sample(self) -> None:
        lag: dict[str, int | None] = {}
        if self.lag_probe is not None:
            lag = await asyncio.to_thread(self.lag_probe.lag)
        orders = self.driver.all_orders
        self.samples.append(
            Sample(
                t=time.time(),
                sent=len(orders),
                accepted=sum(1 for o in orders if o.accepted),
                awaiting_email=sum(
                    1
                    for o in orders
                    if o.accepted and o.expect_confirmed and not self.mailbox.count(o.email)
                ),
                emailed=sum(1 for o in orders if self.mailbox.count(o.email)),
                in_flight=self.driver.in_flight,
                lag=lag,
                rss_total_mb=await asyncio.to_thread(self.rss_total),
            )
        )

    def stop(self) -> None:
        self._stop = True

    # -- steps --------------------------------------------------------------------------------

    def _expected(self, orders: Sequence[PlacedOrder]) -> list[PlacedOrder]:
        return [o for o in orders if o.accepted and o.expect_confirmed]

    async def _wait_for_emails(self, orders: Sequence[PlacedOrder], timeout: float) -> None:
        deadline = time.time() + timeout
        waiting = self._expected(orders)
        while time.time() < deadline:
            waiting = [o for o in waiting if not self.mailbox.count(o.email)]
            if not waiting:
                return
            await asyncio.sleep(0.1)

    async def run_step(
        self, label: str, rate: float, seconds: float, drain_cap: float
    ) -> dict[str, Any]:
        """One open-loop step, then a bounded wait for its emails; returns its record."""
        self.on_step(f"orders {label}: {rate:.0f}/s for {seconds:.0f}s", seconds)
        window = CpuWindow(self.system_cpu)
        step = await self.driver.run_step(label, rate, seconds)
        usage = window.read()  # while orders were being sent, before the drain
        drain_limit = allowed_drain(seconds, drain_cap)
        await self._wait_for_emails(step.orders, drain_limit + 1.0)
        record = {**self._record(step, drain_limit), **usage}
        self.steps.append(record)
        return record

    def _record(self, step: OrderStep, drain_limit: float) -> dict[str, Any]:
        expected = self._expected(step.orders)
        firsts = [(o, self.mailbox.first(o.email)) for o in expected]
        e2e = [(seen.created - o.due) * 1000 for o, seen in firsts if seen]
        observed = [(seen.observed - o.due) * 1000 for o, seen in firsts if seen]
        last_email = max((seen.created for _o, seen in firsts if seen), default=step.last_sent)
        errors = [o for o in step.orders if not o.accepted]
        outcome = StepOutcome(
            offered_rate=step.rate,
            planned=max(1, round(step.rate * step.seconds)),
            sent=len(step.orders),
            accepted=len(step.orders) - len(errors),
            errors=len(errors),
            achieved_rate=step.achieved_rate,
            completed=len(e2e),
            expected=len(expected),
            drain_seconds=max(0.0, last_email - step.last_sent),
        )
        held, reason = step_sustained(outcome, drain_limit)
        return {
            "label": step.label,
            "offered_rate_per_s": step.rate,
            "seconds": step.seconds,
            "sent": outcome.sent,
            "accepted": outcome.accepted,
            "errors": outcome.errors,
            "error_samples": sorted({o.error or str(o.status_code) for o in errors})[:5],
            "achieved_rate_per_s": round(outcome.achieved_rate, 2),
            "emails_expected": outcome.expected,
            "emails_in_time": outcome.completed,
            "drain_seconds": round(outcome.drain_seconds, 3),
            "allowed_drain_seconds": drain_limit,
            "sustained": held,
            "verdict": reason,
            "post_latency_ms": latency_summary([(o.answered - o.due) * 1000 for o in step.orders]),
            "e2e_latency_ms": latency_summary(e2e),
            "e2e_observed_latency_ms": latency_summary(observed),
            "send_lag_ms": latency_summary(step.send_lag_ms),
            "started": step.started,
            "ended": step.last_sent,
        }

    async def settle(self, timeout: float) -> bool:
        """Wait until every accepted order so far has its email (or time runs out)."""
        self.on_step("orders: waiting for the backlog to clear", timeout)
        await self._wait_for_emails(self.driver.all_orders, timeout)
        return all(self.mailbox.count(o.email) for o in self._expected(self.driver.all_orders))

    async def overload(
        self,
        base_rate: float,
        factor: float,
        max_seconds: float,
        max_orders: int,
        email_wait: float,
    ) -> dict[str, Any]:
        """Offer `factor` x `base_rate` (at most `max_orders` orders, `max_seconds` long): the api
        should refuse what it cannot take (503/429) and keep the accepted orders fast. Waits up
        to `email_wait` for the accepted orders' emails. Returns the summary; its orders stay in
        the driver, so the audit checks them with the rest."""
        rate = max(1.0, round(base_rate * factor))
        seconds = max(1.0, min(max_seconds, max_orders / rate))
        self.on_step(f"orders overload: {rate:.0f}/s for {seconds:.0f}s", seconds)
        window = CpuWindow(self.system_cpu)
        step = await self.driver.run_step("overload", rate, seconds)
        usage = window.read()
        await self._wait_for_emails(step.orders, email_wait)
        answers = []
        for order in step.orders:
            seen = self.mailbox.first(order.email) if order.accepted else None
            answers.append(
                OverloadAnswer(
                    status_code=order.status_code,
                    accepted=order.accepted,
                    post_ms=(order.answered - order.due) * 1000,
                    reason=order.reason,
                    email_ms=(seen.created - order.due) * 1000 if seen else None,
                    expects_email=order.accepted and order.expect_confirmed,
                )
            )
        summary = overload_summary(answers, rate, base_rate)
        return {
            **summary,
            "factor": factor,
            "seconds": round(seconds, 2),
            "achieved_rate_per_s": round(step.achieved_rate, 2),
            "send_lag_ms": latency_summary(step.send_lag_ms),
            "error_samples": sorted(
                {o.error[:120] for o in step.orders if not o.accepted and not o.reason}
            )[:5],
            "started": step.started,
            "ended": step.last_sent,
            **usage,
        }

    async def latency_sweep(
        self, rates: Sequence[int], headline: int, seconds: float, drain_cap: float, settle: float
    ) -> list[int]:
        """Latency at each offered rate; once one is not sustained, only `headline` still runs
        (above capacity each step only measures its own backlog). Returns the skipped rates."""
        skipped: list[int] = []
        overloaded = False
        for rate in rates:
            if overloaded and rate != headline:
                skipped.append(rate)
                continue
            record = await self.run_step("latency", rate, seconds, drain_cap)
            overloaded = overloaded or not record["sustained"]
            await self.settle(settle)
        return skipped

    async def find_sustained(
        self,
        start_rate: int,
        max_rate: int,
        probe_seconds: float,
        sustain_seconds: float,
        sustain_steps: int,
        drain_cap: float,
        settle: float,
        during_first_sustain: Callable[[float], Coroutine[Any, Any, None]] | None = None,
    ) -> float:
        """Short doubling probes bracket the capacity; full-length steps bisect it."""
        rate, low, high = start_rate, 0.0, 0.0
        while rate <= max_rate:
            record = await self.run_step("probe", rate, probe_seconds, drain_cap)
            await self.settle(settle)
            if not record["sustained"]:
                high = rate
                break
            low, rate = rate, rate * 2
        search = RateSearch(low=low, high=high or max_rate * 2)
        sustained = 0.0
        for attempt in range(sustain_steps):
            candidate = search.next_rate(first=attempt == 0)
            if candidate is None:
                break
            profile: asyncio.Task[None] | None = None
            if during_first_sustain is not None and attempt == 0:
                profile = asyncio.create_task(during_first_sustain(sustain_seconds))
            record = await self.run_step("sustain", candidate, sustain_seconds, drain_cap)
            if profile is not None:
                await profile
            search.record(candidate, record["sustained"])
            if record["sustained"]:
                sustained = max(sustained, candidate)
            await self.settle(settle)
        return sustained


@dataclass(frozen=True)
class AuditFindings:
    """What the api, the bank and the mailbox said about each accepted order."""

    statuses: dict[str, str]
    charges: dict[str, int]
    emails: dict[str, int]
    # Each order's restaurant (from the api), and its kitchen tickets once the kitchen was asked.
    restaurants: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, int] | None = None

    def result(self, only: Collection[str] | None = None) -> AuditResult:
        """The audit of every order, or of the ids in `only` (for example one step's)."""
        if only is None:
            return audit_orders(self.statuses, self.charges, self.emails, self.tickets)
        keep = set(only)
        return audit_orders(
            {o: s for o, s in self.statuses.items() if o in keep},
            self.charges,
            self.emails,
            self.tickets,
        )


async def order_states(
    api: httpx.AsyncClient,
    bank: httpx.AsyncClient,
    orders: Sequence[PlacedOrder],
    statuses: dict[str, str],
    charges: dict[str, int],
    concurrency: int = 32,
    restaurants: dict[str, int] | None = None,
) -> None:
    """Ask the api for the status (and restaurant) and the bank for the succeeded charges of
    each order given."""
    gate = asyncio.Semaphore(concurrency)

    async def check(order: PlacedOrder) -> None:
        async with gate:
            try:
                response = await send_retrying(api, "GET", f"/orders/{order.order_id}")
                status = response.json().get("status", f"http {response.status_code}")
                if restaurants is not None and "restaurant_id" in response.json():
                    restaurants[order.order_id] = int(response.json()["restaurant_id"])
                listed = await send_retrying(
                    bank, "GET", "/v1/charges", params={"reference": order.order_id, "limit": 10}
                )
                charges[order.order_id] = sum(
                    1 for c in listed.json()["charges"] if c["status"] == "succeeded"
                )
            except (httpx.HTTPError, ValueError, KeyError):
                status = UNREACHABLE
            statuses[order.order_id] = status

    await asyncio.gather(*(check(o) for o in orders))


async def audit_findings(
    api: httpx.AsyncClient,
    bank: httpx.AsyncClient,
    mailbox: Mailbox,
    orders: Sequence[PlacedOrder],
    concurrency: int = 32,
    patience: float = 120.0,
) -> AuditFindings:
    """Ask the api for every accepted order's status and the bank for its charges, and the
    mailbox for its emails; `.result()` is the audit.

    An order the api or bank cannot answer for stays UNREACHABLE (unverified, not lost) and is
    asked again, like a pending one, until `patience` runs out."""
    accepted = [o for o in orders if o.accepted]
    statuses: dict[str, str] = {}
    charges: dict[str, int] = {}
    restaurants: dict[str, int] = {}
    await order_states(api, bank, accepted, statuses, charges, concurrency, restaurants)
    # An order still pending gets a little longer before it is called lost.
    deadline = time.time() + patience
    while time.time() < deadline:
        waiting = [o for o in accepted if statuses[o.order_id] not in ("confirmed", "declined")]
        if not waiting:
            break
        await asyncio.sleep(2.0)
        await order_states(api, bank, waiting, statuses, charges, concurrency, restaurants)
    await mailbox.poll()
    emails = {o.order_id: mailbox.count(o.email) for o in accepted}
    return AuditFindings(statuses, charges, emails, restaurants)
