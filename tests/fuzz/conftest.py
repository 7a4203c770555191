"""The api and the bank as real processes (`restaurants serve api|bank`, as production runs them),
once on SQLite and once on PostgreSQL, for schemathesis and the hostile-input tests.

Processes, not servers in a test thread: a server thread formatting a 500's traceback while
pytest formats a failure in the main thread trips CPython 3.11's AST recursion check (both
parse source) and ends the session with an INTERNALERROR instead of the finding.

The api runs with its Kafka workers off (a closed port stands in for Kafka's address) and a
real bank behind it for card tokens. Each service has its own database; the servers live for
the session, so what one test writes (orders, charges) the next may see. Their output is in
`<pytest tmp>/fuzz-<database>*/<service>.log`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import schemathesis
from schemathesis.schemas import BaseSchema
from sqlalchemy import create_engine, text

from kafka_restaurants.api import catalog
from kafka_restaurants.db import create_db_engine, migrate, session_factory
from kafka_restaurants.settings import Settings
from tests.fixtures.bank import API_KEY, BANK_KEYS
from tests.fixtures.components import free_port, wait_for
from tests.integration.api.conftest import Item, Place

# Requests per operation in the fuzzing phase. With the coverage phase's boundary values (0, -1,
# 2**63, empty and NUL strings, missing fields, bodies that are not UTF-8) on top, the whole
# folder runs in about a minute on 2 cores.
FUZZ_EXAMPLES = 60

# A fixed seed and derandomized generation: every CI run sends the same requests, so a finding
# reproduces and a green run means the same thing each time.
FUZZ_CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20240612,
        "generation": {"max-examples": FUZZ_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
    }
)


# Ids 1..3 and menu items 1..4 exist, so the coverage phase's small ids reach real rows.
CATALOG = [
    Place("Amore Mio", "Italian", True, True, [Item("Pizza Margherita", vegetarian=True)]),
    Place("Shawarma", "Israeli", False, False, [Item("Shawarma in pita"), Item("Hummus")]),
    Place("Peking Duck House", "Chinese", True, True, [Item("Tofu duck", vegetarian=True)]),
]

# Only what a process needs from ours: a DATABASE_URL or BANK_URL set for CI must not leak in.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")


def bank_settings(db_url: str, data_dir: Path, port: int = 5100) -> dict[str, str]:
    """A bank with every fault knob off: a 5xx in the fuzz run is then always a finding."""
    return {
        "BANK_DATABASE_URL": db_url,
        "BANK_PORT": str(port),
        "DATA_DIR": str(data_dir),
        "BANK_LATENCY_MS": "0",
        "BANK_ERROR_RATE": "0",
        "BANK_TIMEOUT_RATE": "0",
        "BANK_TRANSIENT_FAILURES": "0",
        **BANK_KEYS,
    }


def api_settings(db_url: str, bank_url: str, data_dir: Path, port: int = 5000) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "API_PORT": str(port),
        "DATA_DIR": str(data_dir),
        "BANK_URL": bank_url,
        "BANK_API_KEY": API_KEY,
        "BOOTSTRAP_SVR": "127.0.0.1:1",  # closed: readiness reports Kafka unreachable at once
        "API_WORKERS": "false",
        # Off: the fuzzer's hundreds of orders come from one address, and past the first ten
        # the per-client limit would answer them all 429 before they reach anything to find.
        "API_ORDER_RATE_PER_CLIENT": "0",
    }


def settings_of(values: dict[str, str]) -> Settings:
    """The Settings a process started with `values` reads."""
    return Settings(_env_file=None, **values)


class ServiceProcess:
    """`restaurants serve <service>` on a free port; start() returns once /healthz answers."""

    def __init__(self, service: str, settings: dict[str, str], workdir: Path) -> None:
        self.service = service
        self.settings = settings
        self.workdir = workdir
        port = settings["API_PORT" if service == "api" else "BANK_PORT"]
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = workdir / f"{service}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> ServiceProcess:
        env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
        env.update(HOST="127.0.0.1", LOG_LEVEL="WARNING", **self.settings)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "kafka_restaurants.cli.main", "serve", self.service],
            env=env,
            cwd=self.workdir,  # no .env file here: the settings above are all it reads
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

        def serving() -> bool:
            assert self._process is not None and self._process.poll() is None, (
                f"{self.service} exited; see {self.log_path}"
            )
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200

        wait_for(serving, timeout=60, what=f"{self.service} /healthz ({self.log_path})")
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()


def seed_catalog(db_url: str) -> None:
    """Migrate the api's tables on `db_url` and write the small catalog."""
    migrate("api", db_url)
    engine = create_db_engine(db_url)
    with session_factory(engine)() as session, session.begin():
        catalog.write_catalog(session, CATALOG)
    engine.dispose()


def start_bank(db_url: str, workdir: Path) -> ServiceProcess:
    return ServiceProcess("bank", bank_settings(db_url, workdir, free_port()), workdir).start()


def start_api(db_url: str, bank_url: str, workdir: Path) -> ServiceProcess:
    """The api on `db_url` with the small catalog, asking `bank_url` for card tokens."""
    seed_catalog(db_url)
    settings = api_settings(db_url, bank_url, workdir, free_port())
    return ServiceProcess("api", settings, workdir).start()


@dataclass
class Services:
    api: ServiceProcess
    bank: ServiceProcess


class _Databases:
    """Fresh databases on a PostgreSQL server, dropped at the end."""

    def __init__(self, server_url: str) -> None:
        self._admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        base = server_url.rsplit("/", 1)[0]
        self._base = "postgresql+psycopg://" + base.split("://", 1)[1]
        self._names: list[str] = []

    def create(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self._names.append(name)
        return f"{self._base}/{name}"

    def drop_all(self) -> None:
        with self._admin.connect() as connection:
            for name in self._names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def services(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Services]:
    """The api and its bank, each process on its own database of the kind the param names."""
    workdir: Path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    databases: _Databases | None = None
    if request.param == "sqlite":
        api_db, bank_db = (f"sqlite:///{workdir / name}.sqlite" for name in ("api", "bank"))
    else:
        databases = _Databases(request.getfixturevalue("postgres_server"))
        api_db, bank_db = databases.create("fuzz_api"), databases.create("fuzz_bank")
    bank = start_bank(bank_db, workdir)  # `serve bank` migrates its database itself
    try:
        api = start_api(api_db, bank.url, workdir)
        try:
            yield Services(api=api, bank=bank)
        finally:
            api.stop()
    finally:
        bank.stop()
        if databases is not None:
            databases.drop_all()


@pytest.fixture
def api_server(services: Services) -> ServiceProcess:
    return services.api


def load_schema(server: ServiceProcess) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=FUZZ_CONFIG)


@pytest.fixture
def api_schema(services: Services) -> BaseSchema:
    return load_schema(services.api)


@pytest.fixture
def bank_schema(services: Services) -> BaseSchema:
    return load_schema(services.bank)
