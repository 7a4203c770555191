"""Doing the faults to a running system: signals to the processes the supervisor recorded."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from kafka_restaurants.chaos.schedule import KILL, PAUSE, Fault

Pids = Callable[[], dict[str, int]]


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
        return not self.error and self.pid > 0 and (self.fault.action != KILL or self.new_pid > 0)


def _signal_group(pid: int, signum: signal.Signals) -> None:
    # The supervisor starts each process as its own session leader: the group is the process
    # and whatever it started (uvicorn workers, the JVM's helpers).
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        raise
    except OSError:
        os.kill(pid, signum)


async def inject(fault: Fault, pids: Pids, restart_timeout: float = 60.0) -> Injected:
    """Do one fault; a kill returns once the supervisor has started a replacement."""
    record = Injected(fault, started=time.time())
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


async def _replacement(name: str, old: int, pids: Pids, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = pids().get(name, 0)
        if new and new != old:
            return new
        await asyncio.sleep(0.2)
    return 0


async def run_schedule(
    faults: list[Fault], pids: Pids, t0: float, on_fault: Callable[[Injected], None]
) -> list[Injected]:
    """Start each fault at t0 + its offset (faults may overlap); returns them as done."""

    async def one(fault: Fault) -> Injected:
        await asyncio.sleep(max(0.0, t0 + fault.at - time.time()))
        done = await inject(fault, pids)
        on_fault(done)
        return done

    return list(await asyncio.gather(*(one(f) for f in faults)))
