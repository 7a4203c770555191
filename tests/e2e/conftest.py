"""The whole system, started the way a user starts it: `restaurants up --detach`."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kafka_restaurants.bench.system import system_env
from kafka_restaurants.cli.supervisor import pid_alive
from tests.fixtures.kafka import kafka_libs_or_skip

CLI = [sys.executable, "-m", "kafka_restaurants.cli.main"]


@dataclass
class RunningSystem:
    data_dir: Path
    env: dict[str, str]
    api: str
    web: str
    bank: str
    mailbox: str
    pids: list[int] = field(default_factory=list)

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def current_pids(self) -> list[int]:
        """The supervisor's pid and its children's, as recorded now (restarts change them)."""
        state_file = self.data_dir / "run" / "supervisor.json"
        if state_file.exists():
            state = json.loads(state_file.read_text())
            self.pids = [state["pid"], *(p["pid"] for p in state["processes"])]
        return self.pids

    def processes(self) -> list[dict[str, Any]]:
        """The supervisor's processes as recorded now: name, pid, url, ..."""
        state = json.loads((self.data_dir / "run" / "supervisor.json").read_text())
        return list(state["processes"])

    def pid_of(self, name: str) -> int:
        return int(next(p["pid"] for p in self.processes() if p["name"] == name))

    def log(self, name: str) -> str:
        path = self.data_dir / "log" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def running_system(data_dir: Path, env: dict[str, str], *up_args: str) -> Iterator[RunningSystem]:
    """`restaurants up --detach [up_args]` on `env`; `down` afterwards, checked to leave nothing."""
    running = RunningSystem(
        data_dir=data_dir,
        env=env,
        api=f"http://127.0.0.1:{env['API_PORT']}",
        web=f"http://127.0.0.1:{env['WEB_PORT']}",
        bank=f"http://127.0.0.1:{env['BANK_PORT']}",
        mailbox=f"http://127.0.0.1:{env['MAILBOX_HTTP_PORT']}",
    )
    started = running.cli("up", *up_args, "--detach", "--timeout", "240")
    assert started.returncode == 0, (
        f"up {' '.join(up_args)} --detach failed:\n{started.stdout}\n{started.stderr}\n"
        f"--- supervisor.log ---\n{running.log('supervisor')[-4000:]}"
    )
    running.current_pids()
    try:
        yield running
    finally:
        stopped = running.cli("down")
        assert stopped.returncode == 0, stopped.stderr
        left = [pid for pid in running.current_pids() if pid_alive(pid)]
        assert left == [], f"processes left running after down: {left}"


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    """Everything running in the background; stopped (and checked stopped) at the end."""
    kafka_libs_or_skip()
    data_dir = tmp_path_factory.mktemp("system")
    with running_system(data_dir, system_env(data_dir)) as running:
        yield running
