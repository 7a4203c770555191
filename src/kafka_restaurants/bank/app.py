"""The bank's HTTP entrypoint and composition root: `create_app` builds it, `serve` runs it."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, ParamSpec, TypeVar

import uvicorn
from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from kafka_restaurants.bank.cards import CardRejected
from kafka_restaurants.bank.charging import Fault, FaultInjector
from kafka_restaurants.bank.schemas import (
    CardIn,
    ChargeIn,
    ChargeList,
    ChargeOut,
    ChargeStatus,
    TokenOut,
)
from kafka_restaurants.bank.service import (
    Bank,
    ChargeRequest,
    ChargeView,
    IdempotencyKeyReused,
    TokenView,
    TransientProcessingError,
    UnknownToken,
)
from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.observability import configure_logging, instrument_app
from kafka_restaurants.settings import Settings

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"

P = ParamSpec("P")
T = TypeVar("T")

# Responses are serialized straight from the service's dataclasses (the same JSON the
# response models describe), rather than validated into those models and then serialized.
_TOKEN_JSON = TypeAdapter(TokenView)
_CHARGE_JSON = TypeAdapter(ChargeView)


def _field_error(status: int, loc: list[str | int], msg: str, kind: str) -> JSONResponse:
    return JSONResponse({"detail": [{"loc": loc, "msg": msg, "type": kind}]}, status_code=status)


def _processing_error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's usual 422 shape minus `input`/`ctx`, which would echo card numbers and CVCs."""
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def _json_response(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type="application/json")


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
    """Build the bank app on `settings.bank_db_url`; pass a seeded `rng` for repeatable faults."""
    engine = create_db_engine(settings.bank_db_url)
    bank = Bank(engine, transient_failures=settings.bank_transient_failures)
    run_db = database_runner(engine)
    latency = settings.bank_latency_ms / 1000
    timeout = settings.bank_timeout_seconds
    faults = FaultInjector(
        error_rate=settings.bank_error_rate,
        timeout_rate=settings.bank_timeout_rate,
        rng=rng or random.Random(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(title="Kafka Restaurants bank (mock card processor)", lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, _validation_error)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> Any:
        """The database is reachable."""
        try:
            bank.is_ready()
        except Exception as exc:  # any database failure means "not ready", not a crash
            log.warning("bank database not reachable: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return {"status": "ready"}

    @app.post("/v1/tokens", status_code=201, response_model=TokenOut)
    async def create_token(card: CardIn) -> Any:
        """Swap a card for a token; the number and CVC are checked, then forgotten."""
        try:
            token = await run_db(
                bank.tokenize_card, card.number, card.exp_month, card.exp_year, card.cvc
            )
        except CardRejected as rejected:
            detail = [
                {"loc": ["body", error.field], "msg": error.message, "type": error.type}
                for error in rejected.errors
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        return _json_response(201, _TOKEN_JSON.dump_json(token))

    @app.post("/v1/charges", status_code=201, response_model=ChargeOut)
    async def create_charge(
        body: ChargeIn,
        idempotency_key: Annotated[
            str, Header(alias=IDEMPOTENCY_HEADER, min_length=1, max_length=255)
        ],
    ) -> Any:
        """Charge a token once per Idempotency-Key (201), replaying the stored result (200)."""
        if latency:
            await asyncio.sleep(latency)
        fault = faults.roll()
        if fault is Fault.ERROR:
            return _processing_error(503, "processing_error", "injected fault: try again")
        if fault is Fault.TIMEOUT:
            await asyncio.sleep(timeout)
            return _processing_error(504, "timeout", "injected fault: the processor timed out")
        request = ChargeRequest(body.token, body.amount, body.currency, body.reference)
        try:
            result = await run_db(bank.charge_card, idempotency_key, request)
        except UnknownToken:
            return _field_error(404, ["body", "token"], "no card has this token", "not_found")
        except IdempotencyKeyReused:
            return _field_error(
                409,
                ["header", IDEMPOTENCY_HEADER],
                "this Idempotency-Key was already used for a different charge request",
                "idempotency_key_reused",
            )
        except TransientProcessingError:
            return _processing_error(503, "processing_error", "temporary failure: try again")
        status = 200 if result.replayed else 201
        return _json_response(status, _CHARGE_JSON.dump_json(result.charge))

    @app.get("/v1/charges", response_model=ChargeList)
    def list_charges(
        reference: str | None = None,
        status: ChargeStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Any:
        """Charges, newest first, filtered by reference and/or status."""
        return {"charges": bank.list_charges(reference=reference, status=status, limit=limit)}

    return instrument_app(app, "bank")


def serve(settings: Settings) -> None:
    """Migrate the bank's tables, then run the bank's HTTP server until stopped."""
    configure_logging(settings.log_level, settings.log_format, "bank")
    migrate("bank", settings.bank_db_url)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.bank_port,
        log_level=settings.log_level.lower(),
        # A JSON line per request cost about 0.1 ms of CPU each, two per order; requests are
        # counted and timed in /metrics and traced, so their lines are kept for LOG_LEVEL=DEBUG.
        access_log=settings.log_level.upper() == "DEBUG",
        log_config=None,  # uvicorn's lines go through our handler (JSON in files)
    )
