"""Composition root of the api process: builds clients and routes; connects nothing at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants import __version__
from kafka_restaurants.api import order_status
from kafka_restaurants.api.admission import (
    DATABASE_UNAVAILABLE,
    ORDERS_REFUSED,
    PAYMENT_UNAVAILABLE,
    AdmissionLimits,
    BacklogSampler,
    OrderAdmission,
    OrderGate,
    count_unpublished,
    refused_response,
)
from kafka_restaurants.api.background_check import BackgroundCheck
from kafka_restaurants.api.bank_client import CardTokens, ChargeLookup, bank_key
from kafka_restaurants.api.errors import OrderRejected, PaymentServiceUnavailable
from kafka_restaurants.api.outbox import OutboxRelay
from kafka_restaurants.api.rate_limit import ClientRateLimiter, TrustedProxies
from kafka_restaurants.api.reconciliation import Reconciler
from kafka_restaurants.api.routes import catalog, health, orders
from kafka_restaurants.api.search_index import LiveCatalogIndex, SearchResultCache
from kafka_restaurants.api.workers import RestartPolicy, SupervisedWorker
from kafka_restaurants.db import create_db_engine, migrate, session_factory
from kafka_restaurants.messaging.probe import ClusterProbe
from kafka_restaurants.messaging.producer import RecordPublisher
from kafka_restaurants.messaging.security import client_security
from kafka_restaurants.messaging.service import ConsumerProcess
from kafka_restaurants.runtime import configure_logging
from kafka_restaurants.service_app import service_app
from kafka_restaurants.settings import Settings
from kafka_restaurants.tls import server_tls

log = logging.getLogger(__name__)


def create_app(settings: Settings, worker_policy: RestartPolicy | None = None) -> FastAPI:
    """The api application, wired to the database, bank and Kafka that `settings` name.

    `worker_policy` says how the outbox relay and order-status consumer are restarted when they
    die, and what happens when they keep dying (by default the process exits).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_db_engine(settings.api_db_url)
        sessions = session_factory(engine)
        state = app.state
        state.sessions = sessions
        state.search_index = LiveCatalogIndex(sessions)
        state.search_index.start()
        state.search_cache = SearchResultCache()
        probe = ClusterProbe(settings.bootstrap_servers, security=client_security(settings))
        state.kafka_reachable = BackgroundCheck(probe.reachable, name="kafka-probe")
        state.card_tokens = CardTokens(
            settings.bank_base_url, bank_key(settings), ca_file=settings.tls_ca_file
        )
        backlog = state.outbox_backlog = BacklogSampler(lambda: count_unpublished(sessions))
        state.order_gate = OrderGate(admission_limits(settings), backlog.value)
        if settings.api_max_outbox_backlog:
            backlog.start()
        state.relay, state.workers = background_workers(settings, sessions, worker_policy)
        for worker in state.workers:
            worker.start()
        try:
            yield
        finally:
            for worker in reversed(state.workers):
                worker.stop()
            backlog.stop()
            state.card_tokens.close()
            state.search_index.stop()
            engine.dispose()

    app = service_app(
        "api",
        title="Kafka Restaurants API",
        version=__version__,
        description="Search restaurants, read menus, place and follow orders.",
        routers=[health.router, catalog.router, orders.router],
        lifespan=lifespan,
        alive_check=health.alive,
        ready_check=health.ready,
        # Inside the metrics and tracing middleware (a refusal is counted and traced), outside
        # the routing and body parsing it saves refused orders from.
        middleware=[OrderAdmission],
    )
    # Built here, not at startup: they hold no connections, and a bad TRUSTED_PROXIES should
    # stop the process before it serves anything.
    app.state.trusted_proxies = TrustedProxies(settings.trusted_proxies)
    app.state.order_rate = ClientRateLimiter(
        settings.api_order_rate_per_client, settings.api_order_burst_per_client
    )
    add_error_answers(app)
    return app


def background_workers(
    settings: Settings, sessions: sessionmaker[Session], policy: RestartPolicy | None
) -> tuple[OutboxRelay | None, list[SupervisedWorker]]:
    """The outbox relay, the order-status consumer and the reconciler, each supervised (none
    with API_WORKERS=0: a process that only serves HTTP)."""
    if not settings.api_workers:
        return None, []
    relay = OutboxRelay(
        sessions,
        RecordPublisher(settings.bootstrap_servers, security=client_security(settings)),
    )
    # Each restart gets a fresh consumer (new client, no stale pauses); the relay keeps
    # nothing between rounds but its producer, which reconnects by itself.
    workers = [
        SupervisedWorker("outbox_relay", lambda: relay, policy),
        SupervisedWorker(
            "order_status",
            lambda: ConsumerProcess(order_status.order_status_service(settings, sessions)),
            policy,
        ),
    ]
    if settings.reconcile_interval_seconds > 0:
        workers.append(
            SupervisedWorker("reconciler", lambda: reconciler(settings, sessions), policy)
        )
    return relay, workers


def add_error_answers(app: FastAPI) -> None:
    """What the api answers for a rejected order, an unavailable bank or database."""

    @app.exception_handler(OrderRejected)
    async def order_rejected(_request: Request, exc: OrderRejected) -> JSONResponse:
        return JSONResponse(
            {"detail": [e.as_dict() for e in exc.errors]}, status_code=exc.status_code
        )

    @app.exception_handler(PaymentServiceUnavailable)
    async def bank_unavailable(_request: Request, exc: PaymentServiceUnavailable) -> JSONResponse:
        log.warning("order refused, payment service unavailable: %s", exc)
        ORDERS_REFUSED.labels(PAYMENT_UNAVAILABLE.reason).inc()
        return refused_response(503, PAYMENT_UNAVAILABLE)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def database_unavailable(request: Request, exc: DBAPIError) -> JSONResponse:
        # Not a bug to hide behind a 500: the database is restarting or unreachable, the
        # transaction rolled back, and the same request will work again in seconds.
        log.warning("database unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
        if request.method == "POST" and request.url.path == "/orders":
            ORDERS_REFUSED.labels(DATABASE_UNAVAILABLE.reason).inc()
            return refused_response(503, DATABASE_UNAVAILABLE)
        return JSONResponse(
            {"detail": "The database is unavailable; try again shortly."},
            status_code=503,
            headers={"Retry-After": DATABASE_UNAVAILABLE.retry_after_header},
        )


def admission_limits(settings: Settings) -> AdmissionLimits:
    """When POST /orders answers 503 instead of taking the order."""
    return AdmissionLimits(
        max_in_flight=settings.api_max_orders_in_flight,
        max_outbox_backlog=settings.api_max_outbox_backlog,
        retry_after_ms=settings.api_busy_retry_after_ms,
    )


def reconciler(settings: Settings, sessions: sessionmaker[Session]) -> Reconciler:
    """The worker that settles orders left pending, by asking the bank for their charges."""
    return Reconciler(
        sessions,
        ChargeLookup(settings.bank_base_url, bank_key(settings), ca_file=settings.tls_ca_file),
        older_than=settings.reconcile_after_seconds,
        interval=settings.reconcile_interval_seconds,
    )


def create_app_from_environment() -> FastAPI:
    """The app for one of several worker processes, configured from the environment."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format, "api")
    return create_app(settings)


def serve(settings: Settings) -> None:
    """Migrate, then serve the api on its port until stopped.

    With API_PROCESSES > 1 uvicorn runs that many worker processes on the one port; each has
    its own outbox relay (rows are leased, so none is published twice) and joins the same
    order-status consumer group (partitions are shared out). A process whose relay or consumer
    keeps dying exits, and uvicorn starts a new one in its place.
    """
    configure_logging(settings.log_level, settings.log_format, "api")
    migrate("api", settings.api_db_url)
    common = {
        "host": settings.host,
        "port": settings.api_port,
        "log_level": settings.log_level.lower(),
        "access_log": False,
        # The api reads X-Forwarded-For itself (rate_limit.TrustedProxies), only for the
        # per-client limit; uvicorn must not rewrite the peer address it is checked against.
        "proxy_headers": False,
        "log_config": None,  # uvicorn's lines go through our handler (JSON in files)
        **server_tls(settings),  # HTTPS when TLS_CERT_FILE and TLS_KEY_FILE are set
    }
    if settings.api_processes > 1:
        uvicorn.run(
            "kafka_restaurants.api.app:create_app_from_environment",
            factory=True,
            workers=settings.api_processes,
            **common,  # type: ignore[arg-type]
        )
    else:
        uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]
