"""The bank's HTTP entrypoint and composition root: `create_app` builds it, `serve` runs it."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any, ParamSpec, TypeVar

import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from kafka_restaurants.bank.auth import (
    PERMISSIONS,
    BankKeysMissing,
    Caller,
    CallerKeys,
    Permission,
    caller_keys,
)
from kafka_restaurants.bank.cards import CardRejected
from kafka_restaurants.bank.charging import Fault, FaultInjector
from kafka_restaurants.bank.schemas import (
    BatchChargeIn,
    ChargeBatchIn,
    ChargeBatchOut,
    ChargeIn,
    ChargeList,
    ChargeOut,
    ChargeStatus,
    FaultsIn,
    FaultsOut,
    FieldErrorsOut,
    IdempotencyKey,
    MessageOut,
    ProcessingErrorOut,
    ReferenceFilter,
    Token,
    TokenIn,
    TokenOut,
    TokenVoidIn,
    TokenVoidOut,
)
from kafka_restaurants.bank.service import (
    Bank,
    ChargeRefusal,
    ChargeRequest,
    ChargeResult,
    ChargeView,
    IdempotencyKeyReused,
    TokenTerms,
    TokenView,
    TokenVoid,
    TransientProcessingError,
    UnknownToken,
)
from kafka_restaurants.db import create_db_engine, migrate
from kafka_restaurants.observability import configure_logging, instrument_app
from kafka_restaurants.settings import Settings
from kafka_restaurants.tls import server_tls

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"

P = ParamSpec("P")
T = TypeVar("T")

# Responses are serialized straight from the service's dataclasses (the same JSON the
# response models describe), rather than validated into those models and then serialized.
_TOKEN_JSON = TypeAdapter(TokenView)
_CHARGE_JSON = TypeAdapter(ChargeView)


# The bodies of a batch's per-charge refusals: the single endpoint's, except that the key is a
# field of the charge rather than a header.
_UNKNOWN_TOKEN = {
    "detail": [{"loc": ["body", "token"], "msg": "no card has this token", "type": "not_found"}]
}
_KEY_REUSED = {
    "detail": [
        {
            "loc": ["body", "idempotency_key"],
            "msg": "this Idempotency-Key was already used for a different charge request",
            "type": "idempotency_key_reused",
        }
    ]
}
_TRANSIENT = {"error": "processing_error", "message": "temporary failure: try again"}
_INJECTED = {"error": "processing_error", "message": "injected fault: try again"}


def _batch_item(status: int, body: dict[str, Any]) -> bytes:
    return json.dumps({"status_code": status, "body": body}, separators=(",", ":")).encode()


_REFUSAL_ITEMS: dict[type[Exception], bytes] = {
    UnknownToken: _batch_item(404, _UNKNOWN_TOKEN),
    IdempotencyKeyReused: _batch_item(409, _KEY_REUSED),
    TransientProcessingError: _batch_item(503, _TRANSIENT),
}
_INJECTED_ITEM = _batch_item(503, _INJECTED)

# Every status an endpoint can answer is in the OpenAPI document, with the body it carries.
_UNREADABLE: dict[int | str, dict[str, Any]] = {
    400: {"model": MessageOut, "description": "The body is not UTF-8 (FastAPI cannot read it)"}
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": FieldErrorsOut, "description": "A field is wrong; `detail` says which and why"}
}
# Every route but health, readiness and metrics names its caller.
_AUTH: dict[int | str, dict[str, Any]] = {
    401: {
        "model": MessageOut,
        "description": "No bearer key, or one the bank does not know (`WWW-Authenticate: Bearer`)",
    },
    403: {"model": MessageOut, "description": "The caller's key does not allow this"},
}
_CHARGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ChargeOut, "description": "This Idempotency-Key's stored result, replayed"},
    **_UNREADABLE,
    **_AUTH,
    404: {"model": FieldErrorsOut, "description": "No card has this token"},
    409: {
        "model": FieldErrorsOut,
        "description": "The Idempotency-Key was already used for a different charge request",
    },
    **_INVALID,
    503: {
        "model": ProcessingErrorOut,
        "description": "A transient processing error (test card 4000000000000119, or an "
        "injected fault): retry with the same Idempotency-Key",
    },
    504: {"model": ProcessingErrorOut, "description": "An injected processor timeout"},
}
_BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_UNREADABLE,
    **_AUTH,
    422: {
        "model": FieldErrorsOut,
        "description": "The body or its `charges` list is wrong; nothing was charged. "
        "A single charge that is wrong gets its own 422 among the results instead",
    },
    504: {
        "model": ProcessingErrorOut,
        "description": "An injected processor timeout; nothing was charged",
    },
}


def _charge_item(result: ChargeResult | ChargeRefusal) -> bytes:
    """One batch result, spelled as POST /v1/charges would answer that charge."""
    if isinstance(result, ChargeResult):
        status = b"200" if result.replayed else b"201"
        return (
            b'{"status_code":' + status + b',"body":' + _CHARGE_JSON.dump_json(result.charge) + b"}"
        )
    return _REFUSAL_ITEMS[type(result)]


def _error_detail(exc: ValidationError) -> list[dict[str, Any]]:
    """A validation error as FastAPI's 422 `detail`, without echoing the input."""
    return [
        {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]


def read_charges(batch: ChargeBatchIn) -> list[BatchChargeIn | list[dict[str, Any]]]:
    """The charges of a batch, or for a charge that is not valid its 422 `detail`."""
    charges: list[BatchChargeIn | list[dict[str, Any]]] = []
    for item in batch.charges:  # not validated yet (SkipValidation): each is checked alone
        try:
            charges.append(BatchChargeIn.model_validate(item))
        except ValidationError as exc:
            charges.append(_error_detail(exc))
    return charges


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


_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="callerKey",
    description="The caller's own key (BANK_API_KEY). api: create tokens, look up charges by "
    "reference; transactions: charge, look up charges by reference; operator: everything.",
)


def _unauthorized() -> HTTPException:
    return HTTPException(
        401, "a known bearer key is required", headers={"WWW-Authenticate": "Bearer"}
    )


def _forbidden(caller: Caller, permission: Permission) -> HTTPException:
    return HTTPException(403, f"the {caller} key does not allow {permission.value}")


def _authenticator(keys: CallerKeys) -> Callable[..., Awaitable[Caller]]:
    async def authenticated(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> Caller:
        """The caller whose key the request presents; 401 when there is none or it is unknown."""
        caller = keys.identify(credentials.credentials if credentials else None)
        if caller is None:
            raise _unauthorized()
        return caller

    return authenticated


def _allowed(caller: Caller, permission: Permission) -> Caller:
    if permission not in PERMISSIONS[caller]:
        raise _forbidden(caller, permission)
    return caller


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
    run_db = database_runner(engine)
    timeout = settings.bank_timeout_seconds
    faults = FaultInjector(
        error_rate=settings.bank_error_rate,
        timeout_rate=settings.bank_timeout_rate,
        rng=rng or random.Random(),
        latency_ms=settings.bank_latency_ms,
    )
    authenticated = Depends(_authenticator(keys))

    def require(permission: Permission) -> Any:
        async def allowed(caller: Caller = authenticated) -> Caller:
            return _allowed(caller, permission)

        return Depends(allowed)

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

    @app.get("/readyz", responses={503: {"description": "The database is not reachable"}})
    def readyz() -> Any:
        """The database is reachable."""
        try:
            bank.is_ready()
        except Exception as exc:  # any database failure means "not ready", not a crash
            log.warning("bank database not reachable: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return {"status": "ready"}

    @app.post(
        "/v1/tokens",
        status_code=201,
        response_model=TokenOut,
        responses={**_UNREADABLE, **_AUTH, **_INVALID},
        dependencies=[require(Permission.CREATE_TOKENS)],
    )
    async def create_token(card: TokenIn) -> Any:
        """Swap a card for a token that pays one order (`reference`) at most `max_amount` in
        `currency`, once, before `expires_at`; the number and CVC are checked, then forgotten."""
        terms = TokenTerms(card.reference, card.max_amount, card.currency)
        try:
            token = await run_db(
                bank.tokenize_card, card.number, card.exp_month, card.exp_year, card.cvc, terms
            )
        except CardRejected as rejected:
            detail = [
                {"loc": ["body", error.field], "msg": error.message, "type": error.type}
                for error in rejected.errors
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        return _json_response(201, _TOKEN_JSON.dump_json(token))

    @app.post(
        "/v1/tokens/{token}/void",
        response_model=TokenVoidOut,
        responses={
            **_UNREADABLE,
            **_AUTH,
            **_INVALID,
            404: {"model": FieldErrorsOut, "description": "No token of this reference"},
            409: {"model": FieldErrorsOut, "description": "A charge used the token first"},
        },
        dependencies=[require(Permission.VOID_TOKENS)],
    )
    async def void_token(token: Token, body: TokenVoidIn) -> Any:
        """Make the order's unused token unusable: a charge with it is declined `token_used`.
        The api's reconciler does this before it fails an order nothing charged, so no charge
        can still arrive after. 409 when a charge used it first: look the charge up."""
        found = await run_db(bank.void_token, token, body.reference)
        if found is TokenVoid.UNKNOWN:
            return _field_error(404, ["path", "token"], "no token of this reference", "not_found")
        if found is TokenVoid.USED:
            return _field_error(409, ["path", "token"], "a charge used this token", "token_used")
        return {"token": token, "status": "voided"}

    @app.post(
        "/v1/charges",
        status_code=201,
        response_model=ChargeOut,
        responses=_CHARGE_RESPONSES,
        dependencies=[require(Permission.CHARGE)],
    )
    async def create_charge(
        body: ChargeIn,
        idempotency_key: Annotated[IdempotencyKey, Header(alias=IDEMPOTENCY_HEADER)],
    ) -> Any:
        """Charge a token once per Idempotency-Key (201), replaying the stored result (200).

        A token pays only the order it was made for: a charge for another reference, another
        currency or more than its `max_amount`, after it expired, or after another charge used
        it is declined (`token_reference_mismatch`, `token_currency_mismatch`,
        `amount_over_token_limit`, `token_expired`, `token_used`) and charges nothing. A retry
        under the same Idempotency-Key always replays the first answer.
        """
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
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

    @app.post(
        "/v1/charges/batch",
        response_model=ChargeBatchOut,
        responses=_BATCH_RESPONSES,
        dependencies=[require(Permission.CHARGE)],
    )
    async def create_charges(batch: ChargeBatchIn) -> Any:
        """Charge up to 500 charges in one call: `{"charges": [{idempotency_key, token, amount,
        currency, reference}, ...]}` answers `{"results": [{status_code, body}, ...]}`, one per
        charge in order, each what POST /v1/charges would have answered for it (201, 200
        replay, 404, 409, 422, 503). Injected latency and timeouts apply once per call (a 504
        for the whole call), injected errors to each charge (its own 503).
        """
        charges = read_charges(batch)
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        timed_out, errored = faults.roll_batch(len(charges))
        if timed_out:
            await asyncio.sleep(timeout)
            return _processing_error(504, "timeout", "injected fault: the processor timed out")
        items: list[bytes] = []
        to_charge: list[tuple[str, ChargeRequest]] = []
        for charge, injected in zip(charges, errored, strict=True):
            if isinstance(charge, list):
                items.append(_batch_item(422, {"detail": charge}))
            elif injected:
                items.append(_INJECTED_ITEM)
            else:
                items.append(b"")  # filled in below, in order
                request_ = ChargeRequest(
                    charge.token, charge.amount, charge.currency, charge.reference
                )
                to_charge.append((charge.idempotency_key, request_))
        results = iter(await run_db(bank.charge_batch, to_charge) if to_charge else [])
        body = b",".join(item or _charge_item(next(results)) for item in items)
        return _json_response(200, b'{"results":[' + body + b"]}")

    @app.get("/v1/charges", response_model=ChargeList, responses={**_AUTH, **_INVALID})
    def list_charges(
        caller: Caller = authenticated,
        reference: ReferenceFilter | None = None,
        status: ChargeStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Any:
        """Charges, newest first, filtered by reference and/or status. The api and the payment
        service may look up one reference's charges; only the operator may list them all."""
        needed = Permission.LIST_CHARGES if reference is None else Permission.LOOK_UP_CHARGES
        _allowed(caller, needed)
        return {"charges": bank.list_charges(reference=reference, status=status, limit=limit)}

    @app.get(
        "/admin/faults",
        response_model=FaultsOut,
        responses=_AUTH,
        dependencies=[require(Permission.CONTROL_FAULTS)],
    )
    def get_faults() -> Any:
        """The fault injection charge calls meet now (BANK_* settings until changed)."""
        return _faults_out(faults)

    @app.put(
        "/admin/faults",
        response_model=FaultsOut,
        responses={**_UNREADABLE, **_AUTH, **_INVALID},
        dependencies=[require(Permission.CONTROL_FAULTS)],
    )
    def set_faults(body: FaultsIn) -> Any:
        """Change fault injection until changed again or the bank restarts (which goes back
        to BANK_ERROR_RATE, BANK_TIMEOUT_RATE and BANK_LATENCY_MS)."""
        faults.error_rate = body.error_rate
        faults.timeout_rate = body.timeout_rate
        faults.latency_ms = body.latency_ms
        log.warning(
            "fault injection set: error_rate=%s timeout_rate=%s latency_ms=%d",
            body.error_rate,
            body.timeout_rate,
            body.latency_ms,
        )
        return _faults_out(faults)

    return instrument_app(app, "bank")


def _faults_out(faults: FaultInjector) -> FaultsOut:
    return FaultsOut(
        error_rate=faults.error_rate,
        timeout_rate=faults.timeout_rate,
        latency_ms=faults.latency_ms,
    )


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
