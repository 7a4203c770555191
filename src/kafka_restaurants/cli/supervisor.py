"""Starts every process in order, watches them, and stops them all cleanly.

State lives in `<data_dir>/run/supervisor.json` so `restaurants status` and `down` can find the
processes from another shell.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kafka_restaurants.cli.processes import ProcessSpec
from kafka_restaurants.restarts import RestartBudget

log = logging.getLogger("kafka_restaurants.supervisor")

_PR_SET_PDEATHSIG = 1


class StartupFailed(RuntimeError):
    """A process exited or never became ready; the message carries its log tail."""


def _die_with_parent() -> None:
    # Children get SIGTERM if the supervisor dies, even by SIGKILL: no orphans left running.
    os.setsid()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def log_tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16384))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Running:
    spec: ProcessSpec
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


def restart_pause(recent_restarts: int) -> float:
    """Seconds to wait before a restart: doubling with each recent one, at most 30."""
    return float(min(2**recent_restarts, 30))


class Supervisor:
    """Runs process groups in order and stops them in reverse."""

    def __init__(
        self,
        data_dir: Path,
        on_event: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.data_dir = data_dir
        self.log_dir = data_dir / "log"
        self.run_dir = data_dir / "run"
        self.state_path = self.run_dir / "supervisor.json"
        self.running: list[Running] = []
        self.on_event = on_event
        self.state = "starting"
        self.error = ""
        self.clock = clock
        self.sleep = sleep

    # -- starting -----------------------------------------------------------------------------

    def start(self, spec: ProcessSpec) -> Running:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{spec.name}.log"
        log_file = log_path.open("ab")
        env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            spec.command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=_die_with_parent,
        )
        running = Running(spec, process, log_path, log_file)
        self.running.append(running)
        self.write_state()
        return running

    def start_group(self, specs: list[ProcessSpec]) -> None:
        """Start processes together and wait until each is ready, or raise StartupFailed."""
        started = [self.start(spec) for spec in specs]
        pending = list(started)
        deadline = {id(r): time.monotonic() + r.spec.ready_timeout for r in started}
        while pending:
            for running in list(pending):
                if running.process.poll() is not None:
                    raise StartupFailed(
                        f"{running.spec.name} exited with code {running.process.returncode} "
                        f"while starting. Last lines of {running.log_path}:\n"
                        f"{log_tail(running.log_path)}"
                    )
                if running.spec.ready():
                    pending.remove(running)
                    self.on_event(f"  {running.spec.name:<13} ready  {running.spec.url}")
                elif time.monotonic() > deadline[id(running)]:
                    waited = running.spec.ready_timeout
                    raise StartupFailed(
                        f"{running.spec.name} was not ready after {waited:.0f}s. "
                        f"Last lines of {running.log_path}:\n{log_tail(running.log_path)}"
                    )
            if pending:
                time.sleep(0.1)

    # -- watching -----------------------------------------------------------------------------

    def watch(
        self,
        stop_requested: Callable[[], bool],
        max_restarts: int = 5,
        restart_window: float = 60.0,
    ) -> None:
        """Until asked to stop, restart any process that dies (with a growing pause); give up,
        raising StartupFailed, on one that needs more than `max_restarts` restarts within
        `restart_window` seconds."""
        budgets: dict[str, RestartBudget] = {}
        while not stop_requested():
            for running in self.running:
                code = running.process.poll()
                if code is None:
                    continue
                name = running.spec.name
                budget = budgets.setdefault(
                    name, RestartBudget(max_restarts, restart_window, self.clock)
                )
                recent = budget.recent()
                if not budget.spend():
                    raise StartupFailed(
                        f"{name} exited with code {code} after {recent} restarts within "
                        f"{restart_window:.0f}s; giving up. "
                        f"Last lines of {running.log_path}:\n{log_tail(running.log_path)}"
                    )
                self.on_event(
                    f"{name} exited with code {code}; restarting "
                    f"({recent + 1} of {max_restarts} allowed within {restart_window:.0f}s)"
                )
                self.sleep(restart_pause(recent))
                running.log_file.close()
                self.running.remove(running)
                self.start(running.spec)  # writes the state without the dead one
                break
            self.sleep(0.2)

    # -- stopping -----------------------------------------------------------------------------

    def stop_all(self, timeout: float = 20.0) -> None:
        """SIGTERM every process, newest first; SIGKILL whatever outlives `timeout`."""
        self.state = "stopping"
        self.write_state()
        for running in reversed(self.running):
            if running.process.poll() is None:
                running.process.send_signal(signal.SIGTERM)
                try:
                    running.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.on_event(f"{running.spec.name} did not stop in {timeout:.0f}s; killing")
                    os.killpg(running.process.pid, signal.SIGKILL)
                    running.process.wait()
            running.log_file.close()
            self.on_event(f"  {running.spec.name:<13} stopped")
        self.running.clear()
        self.state_path.unlink(missing_ok=True)

    # -- state --------------------------------------------------------------------------------

    def write_state(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {
            "pid": os.getpid(),
            "state": self.state,
            "error": self.error,
            "processes": [
                {
                    "name": r.spec.name,
                    "pid": r.process.pid,
                    "url": r.spec.url,
                    "log": str(r.log_path),
                }
                for r in self.running
            ],
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_path)


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """The running supervisor's state, or None when none is running."""
    path = data_dir / "run" / "supervisor.json"
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not pid_alive(int(state.get("pid", 0))):
        return None
    return state


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
