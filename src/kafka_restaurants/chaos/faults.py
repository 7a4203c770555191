"""Doing the faults to a running system: signals to the processes the supervisor recorded, and
disruptions (a database server down, a burst of bank errors) begun and ended through their own
controls."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx

from kafka_restaurants.bank.control import set_bank_faults
from kafka_restaurants.bench.postgres import LocalPostgres
from kafka_restaurants.chaos.schedule import DISRUPT, KILL, PAUSE, Fault

Pids = Callable[[], dict[str, int]]


class Disruption(Protocol):
    """Something the run can break and mend."""

    async def begin(self) -> int:
        """Break it; returns the pid of the process disrupted (0 when there is none)."""
        ...

    async def end(self) -> None:
        """Mend it: once this returns, it works again."""
        ...


@dataclass
class Injected:
    """What happened when a fault was done: when, to which pid, and how the system answered."""

    fault: Fault
    started: float = 0.0  # wall clock
    ended: float = 0.0  # SIGCONT sent, or the replacement process seen
    pid: int = 0
    new_pid: int = 0  # the process the supervisor started in place of a killed one
    error: str = ""

    @property
    def done(self) -> bool:
        if self.fault.action == DISRUPT:
            return not self.error and self.ended > 0
        return not self.error and self.pid > 0 and (self.fault.action != KILL or self.new_pid > 0)


class DatabaseOutage:
    """The system's PostgreSQL server crashes (immediate shutdown) and later starts again."""

    def __init__(self, server: LocalPostgres) -> None:
        self.server = server

    async def begin(self) -> int:
        pid = self.server.process.pid if self.server.process is not None else 0
        await asyncio.to_thread(self.server.crash)
        return pid

    async def end(self) -> None:
        await asyncio.to_thread(self.server.start)


class BankBurst:
    """The bank answers a share of charges 503 and lets a share hang (then 504), through its
    operator-only fault control; the burst ends with faults off again."""

    def __init__(self, bank: httpx.AsyncClient, error_rate: float, timeout_rate: float) -> None:
        self.bank = bank
        self.error_rate = error_rate
        self.timeout_rate = timeout_rate

    async def begin(self) -> int:
        await set_bank_faults(self.bank, error_rate=self.error_rate, timeout_rate=self.timeout_rate)
        return 0

    async def end(self) -> None:
        await set_bank_faults(self.bank)


def _signal_group(pid: int, signum: signal.Signals) -> None:
    # The supervisor starts each process as its own session leader: the group is the process
    # and whatever it started (uvicorn workers, the JVM's helpers).
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        raise
    except OSError:
        os.kill(pid, signum)


async def inject(
    fault: Fault,
    pids: Pids,
    disruptions: Mapping[str, Disruption] | None = None,
    restart_timeout: float = 60.0,
) -> Injected:
    """Do one fault; a kill returns once the supervisor has started a replacement."""
    record = Injected(fault, started=time.time())
    if fault.action == DISRUPT:
        return await _disrupt(record, (disruptions or {}).get(fault.target))
    pid = pids().get(fault.target, 0)
    if pid <= 0:
        record.error = f"no running process named {fault.target}"
        record.ended = time.time()
        return record
    record.pid = pid
    try:
        if fault.action == KILL:
            _signal_group(pid, signal.SIGKILL)
            record.new_pid = await _replacement(fault.target, pid, pids, restart_timeout)
            if not record.new_pid:
                record.error = f"not restarted within {restart_timeout:.0f}s"
        elif fault.action == PAUSE:
            _signal_group(pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(fault.duration)
            finally:
                _signal_group(pid, signal.SIGCONT)
    except ProcessLookupError:
        record.error = f"pid {pid} was already gone"
    record.ended = time.time()
    return record


async def _disrupt(record: Injected, disruption: Disruption | None) -> Injected:
    if disruption is None:
        record.error = f"nothing can disrupt {record.fault.target} in this run"
    else:
        try:
            record.pid = await disruption.begin()
            try:
                await asyncio.sleep(record.fault.duration)
            finally:
                await disruption.end()
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
    record.ended = time.time()
    return record


async def _replacement(name: str, old: int, pids: Pids, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = pids().get(name, 0)
        if new and new != old:
            return new
        await asyncio.sleep(0.2)
    return 0


async def run_schedule(
    faults: list[Fault],
    pids: Pids,
    t0: float,
    on_fault: Callable[[Injected], None],
    disruptions: Mapping[str, Disruption] | None = None,
) -> list[Injected]:
    """Start each fault at t0 + its offset (faults may overlap); returns them as done."""

    async def one(fault: Fault) -> Injected:
        await asyncio.sleep(max(0.0, t0 + fault.at - time.time()))
        done = await inject(fault, pids, disruptions)
        on_fault(done)
        return done

    return list(await asyncio.gather(*(one(f) for f in faults)))
