"""Composition root of the api process: builds clients and routes; connects nothing at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
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
from kafka_restaurants.observability import instrument_app
from kafka_restaurants.runtime import configure_logging
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
        engine = create_db_engine(settings.api_database_url)
        sessions = session_factory(engine)
        app.state.sessions = sessions
        app.state.search_index = LiveCatalogIndex(sessions)
        app.state.search_index.start()
        app.state.search_cache = SearchResultCache()
        kafka_security = client_security(settings)
        probe = ClusterProbe(settings.bootstrap_servers, security=kafka_security)
        app.state.kafka_reachable = BackgroundCheck(probe.reachable, name="kafka-probe")
        app.state.card_tokens = CardTokens(
            settings.bank_base_url, bank_key(settings), ca_file=settings.tls_ca_file
        )
        backlog = app.state.outbox_backlog = BacklogSampler(lambda: count_unpublished(sessions))
        app.state.order_gate = OrderGate(admission_limits(settings), backlog.value)
        if settings.api_max_outbox_backlog:
            backlog.start()
        app.state.relay = None
        workers: list[SupervisedWorker] = []
        if settings.api_workers:
            relay = app.state.relay = OutboxRelay(
                sessions, RecordPublisher(settings.bootstrap_servers, security=kafka_security)
            )
            # Each restart gets a fresh consumer (new client, no stale pauses); the relay keeps
            # nothing between rounds but its producer, which reconnects by itself.
            workers = [
                SupervisedWorker("outbox_relay", lambda: relay, worker_policy),
                SupervisedWorker(
                    "order_status",
                    lambda: ConsumerProcess(order_status.order_status_service(settings, sessions)),
                    worker_policy,
                ),
            ]
            if settings.reconcile_interval_seconds > 0:
                workers.append(
                    SupervisedWorker(
                        "reconciler", lambda: reconciler(settings, sessions), worker_policy
                    )
                )
        app.state.workers = workers
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            for worker in reversed(workers):
                worker.stop()
            backlog.stop()
            app.state.card_tokens.close()
            app.state.search_index.stop()
            engine.dispose()

    # Built here, not at startup: they hold no connections, and a bad TRUSTED_PROXIES should
    # stop the process before it serves anything.
    trusted_proxies = TrustedProxies(settings.trusted_proxies)
    order_rate = ClientRateLimiter(
        settings.api_order_rate_per_client, settings.api_order_burst_per_client
    )

    app = FastAPI(
        title="Kafka Restaurants API",
        version=__version__,
        description="Search restaurants, read menus, place and follow orders.",
        lifespan=lifespan,
    )
    app.state.trusted_proxies = trusted_proxies
    app.state.order_rate = order_rate
    app.include_router(health.router)
    app.include_router(catalog.router)
    app.include_router(orders.router)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI echoes the rejected input back; for a card that would be the card number.
        return JSONResponse(
            {
                "detail": [
                    {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                    for e in exc.errors()
                ]
            },
            status_code=422,
        )

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

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    # Inside the metrics and tracing middleware (a refusal is counted and traced), outside
    # the routing and body parsing it saves refused orders from.
    app.add_middleware(OrderAdmission)
    return instrument_app(app, "api")


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
    migrate("api", settings.api_database_url)
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
