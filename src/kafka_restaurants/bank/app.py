"""The bank's HTTP entrypoint and composition root: `create_app` builds it, `serve` runs it."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
    IdempotencyKeyReused,
    TransientProcessingError,
    UnknownToken,
)
from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.observability import configure_logging, instrument_app
from kafka_restaurants.settings import Settings

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"


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


def create_app(settings: Settings, *, rng: random.Random | None = None) -> FastAPI:
    """Build the bank app on `settings.bank_db_url`; pass a seeded `rng` for repeatable faults."""
    engine = create_db_engine(settings.bank_db_url)
    bank = Bank(engine, transient_failures=settings.bank_transient_failures)
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
    def create_token(card: CardIn) -> Any:
        """Swap a card for a token; the number and CVC are checked, then forgotten."""
        try:
            return bank.tokenize_card(card.number, card.exp_month, card.exp_year, card.cvc)
        except CardRejected as rejected:
            detail = [
                {"loc": ["body", error.field], "msg": error.message, "type": error.type}
                for error in rejected.errors
            ]
            return JSONResponse({"detail": detail}, status_code=422)

    @app.post("/v1/charges", status_code=201, response_model=ChargeOut)
    async def create_charge(
        body: ChargeIn,
        response: Response,
        idempotency_key: Annotated[
            str, Header(alias=IDEMPOTENCY_HEADER, min_length=1, max_length=255)
        ],
    ) -> Any:
        """Charge a token once per Idempotency-Key (201), replaying the stored result (200)."""
        if settings.bank_latency_ms:
            await asyncio.sleep(settings.bank_latency_ms / 1000)
        fault = faults.roll()
        if fault is Fault.ERROR:
            return _processing_error(503, "processing_error", "injected fault: try again")
        if fault is Fault.TIMEOUT:
            await asyncio.sleep(settings.bank_timeout_seconds)
            return _processing_error(504, "timeout", "injected fault: the processor timed out")
        request = ChargeRequest(body.token, body.amount, body.currency, body.reference)
        try:
            result = await run_in_threadpool(bank.charge_card, idempotency_key, request)
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
        response.status_code = 200 if result.replayed else 201
        return result.charge

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
        log_config=None,  # uvicorn's lines go through our handler (JSON in files)
    )
