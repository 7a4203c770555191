"""A real bank server (uvicorn in a thread) on a free port, over SQLite or PostgreSQL."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from kafka_restaurants.bank.app import create_app
from kafka_restaurants.db import migrate
from kafka_restaurants.settings import Settings
from tests.fixtures.bank import BANK_KEYS
from tests.fixtures.components import free_port, wait_for


def bank_settings(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test bank; every fault knob explicit so the environment cannot leak in."""
    values: dict[str, Any] = {
        "HOST": "127.0.0.1",
        "BANK_PORT": free_port(),
        "BANK_DATABASE_URL": db_url,
        "DATA_DIR": str(data_dir),
        "BANK_LATENCY_MS": 0,
        "BANK_ERROR_RATE": 0.0,
        "BANK_TIMEOUT_RATE": 0.0,
        "BANK_TIMEOUT_SECONDS": 30.0,
        "BANK_TRANSIENT_FAILURES": 2,
        **BANK_KEYS,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


class BankServer:
    """The bank app served by uvicorn in a background thread."""

    def __init__(self, settings: Settings, rng: random.Random | None = None) -> None:
        self.url = f"http://127.0.0.1:{settings.bank_port}"
        config = uvicorn.Config(
            create_app(settings, rng=rng),
            host="127.0.0.1",
            port=settings.bank_port,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> BankServer:
        self._thread.start()
        wait_for(
            lambda: httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200,
            timeout=30,
            what="bank /healthz",
        )
        return self

    def requests_in_flight(self) -> int:
        """How many HTTP requests the server is handling right now."""
        return len(self._server.server_state.tasks)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._server.should_exit = True
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "bank server did not stop"


@pytest.fixture
def start_bank(tmp_path: Path) -> Iterator[Callable[..., BankServer]]:
    """Start bank servers on a database (migrated first); all are stopped after the test."""
    servers: list[BankServer] = []

    def start(db_url: str, rng: random.Random | None = None, **overrides: Any) -> BankServer:
        migrate("bank", db_url)
        server = BankServer(bank_settings(db_url, tmp_path, **overrides), rng=rng).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bank.sqlite'}"
