"""Real components for web integration tests: the real api served over HTTP on a free port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from kafka_restaurants.api.app import create_app as create_api_app
from kafka_restaurants.api.seed import seed_catalog
from kafka_restaurants.bank.app import create_app as create_bank_app
from kafka_restaurants.db import migrate
from kafka_restaurants.settings import Settings
from tests.fixtures.bank import API_KEY, BANK_KEYS
from tests.fixtures.components import free_port, wait_for


@dataclass
class RunningServer:
    """A uvicorn server in a background thread of the test process."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "server thread did not stop"


def start_server(app: object, port: int) -> RunningServer:
    """Serve `app` on 127.0.0.1:port until stop()."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20, what=f"server on port {port}")
    return RunningServer(f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture(scope="module")
def real_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The real api (and the real bank it tokenizes cards with) on migrated SQLite databases
    holding the hand-written catalog. No Kafka: accepted orders stay pending."""
    data_dir: Path = tmp_path_factory.mktemp("api-data")
    (data_dir / "db").mkdir()
    bank_port = free_port()
    # Port 1 is closed: nothing here needs Kafka, and probes fail fast instead of hanging.
    settings = Settings.model_validate(
        {
            "DATA_DIR": str(data_dir),
            "BOOTSTRAP_SVR": "127.0.0.1:1",
            "API_WORKERS": "false",
            "BANK_URL": f"http://127.0.0.1:{bank_port}",
            # One settings object for the bank (every caller's key) and the api (its own).
            **BANK_KEYS,
            "BANK_API_KEY": API_KEY,
        }
    )
    migrate("bank", settings.bank_db_url)
    migrate("api", settings.api_db_url)
    seed_catalog(settings.api_db_url)
    bank = start_server(create_bank_app(settings), bank_port)
    running = start_server(create_api_app(settings), free_port())
    wait_for(lambda: httpx.get(f"{running.url}/healthz").status_code == 200, what="api healthz")
    yield running
    running.stop()
    bank.stop()
