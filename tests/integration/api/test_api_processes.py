"""`restaurants serve api` with API_PROCESSES=2: both workers serve, SIGTERM stops them all.

With API_WORKERS=true each process runs (and reports) its own outbox relay and order-status
consumer, and stops them on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from kafka_restaurants.cli.supervisor import pid_alive
from tests.fixtures.components import free_port, wait_for
from tests.integration.api.conftest import seed_small_catalog


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("background_workers", [False, True])
def test_two_api_processes_serve_and_stop(tmp_path: Path, background_workers: bool) -> None:
    url = f"sqlite:///{tmp_path}/api.sqlite"
    seed_small_catalog(url)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "API_PORT": str(port),
        "API_PROCESSES": "2",
        "API_WORKERS": str(background_workers).lower(),
        "BOOTSTRAP_SVR": "127.0.0.1:1",
        "DATA_DIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "kafka_restaurants.cli.main", "serve", "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(f"{base}/healthz").status_code == 200, timeout=60)
        wait_for(lambda: len(_children(process.pid)) >= 2, what="two worker processes")
        workers = _children(process.pid)
        found = httpx.get(f"{base}/search", params={"restaurant_style": "italian"}).json()
        assert {r["name"] for r in found} == {"Amore Mio", "pizza Makpiza", "Cafe Italia"}
        # Whichever process answers, its own workers run (Kafka is unreachable: no death).
        expected = (
            {
                "status": "ok",
                "workers": {
                    "outbox_relay": "running",
                    "order_status": "running",
                    "reconciler": "running",
                },
            }
            if background_workers
            else {"status": "ok"}
        )
        # A worker reports "starting" until its client is built (the reconciler's bank client
        # loads TLS certificates: slow on a busy machine); once running, it stays running.
        # Six answers in a row, so both processes are likely heard from.
        wait_for(
            lambda: all(httpx.get(f"{base}/healthz").json() == expected for _ in range(6)),
            timeout=30,
            what="every background worker of both processes to run",
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    # The workers (and multiprocessing's resource tracker) leave just after the parent does.
    wait_for(
        lambda: not [pid for pid in workers if pid_alive(pid)],
        timeout=15,
        what="every worker process to exit",
    )
