"""The system under test: started in its own data directory on free ports, or one already up."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from kafka_restaurants.bench.config import Target

CLI = [sys.executable, "-m", "kafka_restaurants.cli.main"]
# Variables that would point the bench system at someone else's components.
_INHERITED_TARGETS = {"BOOTSTRAP_SVR", "DATABASE_URL", "API_URL", "BANK_URL", "PUBLIC_URL"}


class StartFailed(RuntimeError):
    """`restaurants seed` or `up --detach` failed; the message has their output."""


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()


def _below_ephemeral_range() -> range | None:
    """Ports under the kernel's range for outgoing connections, or None if it is unknown."""
    try:
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return range(max(10_000, low - 12_000), low) if low > 11_000 else None


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Chosen below the kernel's ephemeral range: outgoing connections take their local ports
    from that range, so a port picked there can be taken by some client between being chosen
    and the server that was meant to have it starting (seen: "address already in use").
    Never the same port twice in one process.
    """
    candidates = _below_ephemeral_range()
    if candidates is not None:
        for _ in range(200):
            port = random.choice(candidates)
            if port not in _handed_out and _bindable(port):
                _handed_out.add(port)
                return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    _handed_out.add(port)
    return port


def _port_pair() -> int:
    """A free port whose successor is free too (web replicas take consecutive ports)."""
    while True:
        port = free_port()
        if port + 1 not in _handed_out and _bindable(port + 1):
            _handed_out.add(port + 1)
            return port


def system_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """Environment for a whole system on free ports with every file under `data_dir`.

    The end-to-end tests start their system with this too.
    """
    smtp = free_port()
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED_TARGETS}
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "KAFKA_PORT": str(free_port()),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
            "API_PORT": str(free_port()),
            "BANK_PORT": str(free_port()),
            "MAILBOX_SMTP_PORT": str(smtp),
            "SMTP_PORT": str(smtp),
            "MAILBOX_HTTP_PORT": str(free_port()),
            "WEB_PORT": str(free_port()),
            "WEB_REPLICA_BASE_PORT": str(_port_pair()),
            "TRANSACTIONS_HEALTH_PORT": str(free_port()),
            "MAILER_HEALTH_PORT": str(free_port()),
            "KITCHEN_PORT": str(free_port()),
        }
    )
    env.update(overrides)
    return env


@dataclass
class BenchSystem:
    """A system the harness drives: its addresses and, when known, where its pids are recorded."""

    target: Target
    env: dict[str, str] | None = None  # set when the harness started it
    catalog_size: int | None = None

    @property
    def owned(self) -> bool:
        return self.env is not None

    def pids(self) -> dict[str, int]:
        """Process name -> pid from the supervisor's state file (empty when unknown)."""
        if self.target.data_dir is None:
            return {}
        state_file = self.target.data_dir / "run" / "supervisor.json"
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            return {}
        pids = {"supervisor": int(state["pid"])}
        pids.update({p["name"]: int(p["pid"]) for p in state.get("processes", [])})
        return pids

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def stop(self, keep_data: bool = False) -> None:
        """Stop a system the harness started and remove its data directory."""
        if not self.owned:
            return
        self.cli("down", timeout=120)
        if self.target.data_dir is not None and not keep_data:
            shutil.rmtree(self.target.data_dir, ignore_errors=True)


def start_system(restaurants: int, data_dir: Path | None = None, **overrides: str) -> BenchSystem:
    """Seed a catalog of `restaurants` in a fresh data dir and start everything detached;
    `overrides` are settings for the system (e.g. TRANSACTIONS_INSTANCES="2")."""
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="kafka-restaurants-bench-"))
    env = system_env(data_dir, **{"LOG_LEVEL": "WARNING", **overrides})
    target = Target(
        api=f"http://127.0.0.1:{env['API_PORT']}",
        mailbox=f"http://127.0.0.1:{env['MAILBOX_HTTP_PORT']}",
        bank=f"http://127.0.0.1:{env['BANK_PORT']}",
        bootstrap=f"127.0.0.1:{env['KAFKA_PORT']}",
        data_dir=data_dir,
        kitchen=f"http://127.0.0.1:{env['KITCHEN_PORT']}",
    )
    system = BenchSystem(target=target, env=env, catalog_size=restaurants)
    seeded = system.cli("seed", "--restaurants", str(restaurants), "--replace")
    if seeded.returncode != 0:
        raise StartFailed(f"seed failed:\n{seeded.stdout}\n{seeded.stderr}")
    started = system.cli("up", "--detach", "--timeout", "240")
    if started.returncode != 0:
        system.stop(keep_data=True)
        raise StartFailed(
            f"up --detach failed (data in {data_dir}):\n{started.stdout}\n{started.stderr}"
        )
    return system


def attach_system(target: Target) -> BenchSystem:
    """A system somebody else runs; the harness neither seeds nor stops it."""
    response = httpx.get(f"{target.api}/search", params={"limit": 1}, timeout=10)
    response.raise_for_status()
    return BenchSystem(target=target, catalog_size=int(response.headers["X-Total-Count"]))
