"""The bank's composition root: `create_app` builds it from the settings, `serve` runs it.

The routes are in `routes.py`; what they answer besides their models in `responses.py`.
"""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

import uvicorn
from fastapi import FastAPI, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from kafka_restaurants.bank.auth import BankKeysMissing, caller_keys
from kafka_restaurants.bank.charging import FaultInjector
from kafka_restaurants.bank.routes import BankContext, router
from kafka_restaurants.bank.service import Bank
from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.observability import configure_logging
from kafka_restaurants.service_app import Probe, service_app
from kafka_restaurants.settings import Settings
from kafka_restaurants.tls import server_tls

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


async def _run_inline(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    return function(*args, **kwargs)


def database_runner(engine: Engine) -> Callable[..., Awaitable[Any]]:
    """How async routes run the bank's (synchronous) database work for this engine.

    SQLite is a local file whose statements take tens of microseconds, and it lets one writer
    in at a time anyway: a threadpool hop per request bought no parallelism and cost more CPU
    than the queries, so the work runs inline on the event loop (only an outside process
    holding the write lock could stall the loop, up to the busy timeout). Over a network
    database (PostgreSQL) a query waits on a round trip, so it runs on the threadpool.
    """
    if engine.dialect.name == "sqlite":
        return _run_inline
    return run_in_threadpool


def create_app(settings: Settings, *, rng: random.Random | None = None) -> FastAPI:
    """Build the bank app on `settings.bank_db_url`; pass a seeded `rng` for repeatable faults.

    Raises BankKeysMissing, naming the settings, unless every caller has its own key.
    """
    keys = caller_keys(settings)
    engine = create_db_engine(settings.bank_db_url)
    bank = Bank(
        engine,
        transient_failures=settings.bank_transient_failures,
        token_ttl=timedelta(seconds=settings.bank_token_ttl_seconds),
    )
    faults = FaultInjector(
        error_rate=settings.bank_error_rate,
        timeout_rate=settings.bank_timeout_rate,
        rng=rng or random.Random(),
        latency_ms=settings.bank_latency_ms,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    def database_ready(_request: Request) -> Probe:
        """Ready when the database answers."""
        try:
            bank.is_ready()
        except Exception as exc:  # any database failure means "not ready", not a crash
            log.warning("bank database not reachable: %s", type(exc).__name__)
            return False, {"status": "unavailable"}
        return True, {"status": "ready"}

    app = service_app(
        "bank",
        title="Kafka Restaurants bank (mock card processor)",
        routers=[router],
        lifespan=lifespan,
        ready_check=database_ready,
    )
    app.state.bank = BankContext(
        bank, keys, faults, database_runner(engine), settings.bank_timeout_seconds
    )
    return app


def serve(settings: Settings) -> None:
    """Migrate the bank's tables, then run the bank's HTTP server until stopped.

    Exits with status 2, naming the settings, when a caller key is missing.
    """
    configure_logging(settings.log_level, settings.log_format, "bank")
    try:
        app = create_app(settings)
    except BankKeysMissing as exc:
        log.error("the bank cannot start: %s", exc)
        print(f"bank: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    migrate("bank", settings.bank_db_url)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.bank_port,
        log_level=settings.log_level.lower(),
        # A JSON line per request cost about 0.1 ms of CPU each, two per order; requests are
        # counted and timed in /metrics and traced, so their lines are kept for LOG_LEVEL=DEBUG.
        access_log=settings.log_level.upper() == "DEBUG",
        log_config=None,  # uvicorn's lines go through our handler (JSON in files)
        **server_tls(settings),  # type: ignore[arg-type]  # HTTPS with TLS_CERT_FILE/KEY_FILE
    )
