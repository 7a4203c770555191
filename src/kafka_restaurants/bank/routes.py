"""The bank's HTTP routes: tokens, charges (one or a batch), listing, and fault control.

Every route but the probes names its caller by a bearer key (`authenticated`) and needs a
permission for what it does (`require`). Routes find the bank, its fault injection and how to
run database work in `app.state.bank` (`BankContext`, built by `app.create_app`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from kafka_restaurants.bank.auth import PERMISSIONS, Caller, CallerKeys, Permission
from kafka_restaurants.bank.cards import CardRejected
from kafka_restaurants.bank.charging import Fault, FaultInjector
from kafka_restaurants.bank.domain import (
    ChargeRequest,
    IdempotencyKeyReused,
    TokenTerms,
    TokenView,
    TokenVoid,
    TransientProcessingError,
    UnknownToken,
)
from kafka_restaurants.bank.responses import (
    AUTH,
    BATCH_RESPONSES,
    CHARGE_JSON,
    CHARGE_RESPONSES,
    INJECTED_ITEM,
    INVALID,
    TOKEN_JSON,
    UNREADABLE,
    batch_item,
    charge_item,
)
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
    ReferenceFilter,
    Token,
    TokenIn,
    TokenVoidIn,
    TokenVoidOut,
)
from kafka_restaurants.bank.service import Bank

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class BankContext:
    """What the routes work with: the bank, its callers' keys, its fault injection, and how
    database work runs (inline for SQLite, on the threadpool for a network database)."""

    bank: Bank
    keys: CallerKeys
    faults: FaultInjector
    run_db: Callable[..., Awaitable[Any]]
    # How long an injected processor timeout hangs (BANK_TIMEOUT_SECONDS).
    timeout: float


def _context_of(request: Request) -> BankContext:
    context: BankContext = request.app.state.bank
    return context


async def bank_context(request: Request) -> BankContext:
    """The bank's state; async because FastAPI runs a plain `def` dependency on its threadpool,
    a thread handoff per request for one attribute read."""
    return _context_of(request)


Context = Annotated[BankContext, Depends(bank_context)]

router = APIRouter()


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


def _json_response(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type="application/json")


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


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Caller:
    """The caller whose key the request presents; 401 when there is none or it is unknown."""
    keys = _context_of(request).keys
    caller = keys.identify(credentials.credentials if credentials else None)
    if caller is None:
        raise _unauthorized()
    return caller


def _allowed(caller: Caller, permission: Permission) -> Caller:
    if permission not in PERMISSIONS[caller]:
        raise _forbidden(caller, permission)
    return caller


def require(permission: Permission) -> Any:
    """A route dependency: the caller must be allowed `permission` (else 401 or 403)."""

    async def allowed(caller: Annotated[Caller, Depends(authenticated)]) -> Caller:
        return _allowed(caller, permission)

    return Depends(allowed)


def _faults_out(faults: FaultInjector) -> FaultsOut:
    return FaultsOut(
        error_rate=faults.error_rate,
        timeout_rate=faults.timeout_rate,
        latency_ms=faults.latency_ms,
    )


@router.post(
    "/v1/tokens",
    status_code=201,
    response_model=TokenView,
    responses={**UNREADABLE, **AUTH, **INVALID},
    dependencies=[require(Permission.CREATE_TOKENS)],
)
async def create_token(card: TokenIn, ctx: Context) -> Any:
    """Swap a card for a token that pays one order (`reference`) at most `max_amount` in
    `currency`, once, before `expires_at`; the number and CVC are checked, then forgotten."""
    terms = TokenTerms(card.reference, card.max_amount, card.currency)
    try:
        token = await ctx.run_db(
            ctx.bank.tokenize_card, card.number, card.exp_month, card.exp_year, card.cvc, terms
        )
    except CardRejected as rejected:
        detail = [
            {"loc": ["body", error.field], "msg": error.message, "type": error.type}
            for error in rejected.errors
        ]
        return JSONResponse({"detail": detail}, status_code=422)
    return _json_response(201, TOKEN_JSON.dump_json(token))


@router.post(
    "/v1/tokens/{token}/void",
    response_model=TokenVoidOut,
    responses={
        **UNREADABLE,
        **AUTH,
        **INVALID,
        404: {"model": FieldErrorsOut, "description": "No token of this reference"},
        409: {"model": FieldErrorsOut, "description": "A charge used the token first"},
    },
    dependencies=[require(Permission.VOID_TOKENS)],
)
async def void_token(token: Token, body: TokenVoidIn, ctx: Context) -> Any:
    """Make the order's unused token unusable: a charge with it is declined `token_used`.
    The api's reconciler does this before it fails an order nothing charged, so no charge
    can still arrive after. 409 when a charge used it first: look the charge up."""
    found = await ctx.run_db(ctx.bank.void_token, token, body.reference)
    if found is TokenVoid.UNKNOWN:
        return _field_error(404, ["path", "token"], "no token of this reference", "not_found")
    if found is TokenVoid.USED:
        return _field_error(409, ["path", "token"], "a charge used this token", "token_used")
    return {"token": token, "status": "voided"}


@router.post(
    "/v1/charges",
    status_code=201,
    response_model=ChargeOut,
    responses=CHARGE_RESPONSES,
    dependencies=[require(Permission.CHARGE)],
)
async def create_charge(
    body: ChargeIn,
    idempotency_key: Annotated[IdempotencyKey, Header(alias=IDEMPOTENCY_HEADER)],
    ctx: Context,
) -> Any:
    """Charge a token once per Idempotency-Key (201), replaying the stored result (200).

    A token pays only the order it was made for: a charge for another reference, another
    currency or more than its `max_amount`, after it expired, or after another charge used
    it is declined (`token_reference_mismatch`, `token_currency_mismatch`,
    `amount_over_token_limit`, `token_expired`, `token_used`) and charges nothing. A retry
    under the same Idempotency-Key always replays the first answer.
    """
    if ctx.faults.latency_ms:
        await asyncio.sleep(ctx.faults.latency_ms / 1000)
    fault = ctx.faults.roll()
    if fault is Fault.ERROR:
        return _processing_error(503, "processing_error", "injected fault: try again")
    if fault is Fault.TIMEOUT:
        await asyncio.sleep(ctx.timeout)
        return _processing_error(504, "timeout", "injected fault: the processor timed out")
    request = ChargeRequest(body.token, body.amount, body.currency, body.reference)
    try:
        result = await ctx.run_db(ctx.bank.charge_card, idempotency_key, request)
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
    return _json_response(status, CHARGE_JSON.dump_json(result.charge))


@router.post(
    "/v1/charges/batch",
    response_model=ChargeBatchOut,
    responses=BATCH_RESPONSES,
    dependencies=[require(Permission.CHARGE)],
)
async def create_charges(batch: ChargeBatchIn, ctx: Context) -> Any:
    """Charge up to 500 charges in one call: `{"charges": [{idempotency_key, token, amount,
    currency, reference}, ...]}` answers `{"results": [{status_code, body}, ...]}`, one per
    charge in order, each what POST /v1/charges would have answered for it (201, 200
    replay, 404, 409, 422, 503). Injected latency and timeouts apply once per call (a 504
    for the whole call), injected errors to each charge (its own 503).
    """
    charges = read_charges(batch)
    if ctx.faults.latency_ms:
        await asyncio.sleep(ctx.faults.latency_ms / 1000)
    timed_out, errored = ctx.faults.roll_batch(len(charges))
    if timed_out:
        await asyncio.sleep(ctx.timeout)
        return _processing_error(504, "timeout", "injected fault: the processor timed out")
    items: list[bytes] = []
    to_charge: list[tuple[str, ChargeRequest]] = []
    for charge, injected in zip(charges, errored, strict=True):
        if isinstance(charge, list):
            items.append(batch_item(422, {"detail": charge}))
        elif injected:
            items.append(INJECTED_ITEM)
        else:
            items.append(b"")  # filled in below, in order
            request_ = ChargeRequest(charge.token, charge.amount, charge.currency, charge.reference)
            to_charge.append((charge.idempotency_key, request_))
    results = iter(await ctx.run_db(ctx.bank.charge_batch, to_charge) if to_charge else [])
    body = b",".join(item or charge_item(next(results)) for item in items)
    return _json_response(200, b'{"results":[' + body + b"]}")


@router.get("/v1/charges", response_model=ChargeList, responses={**AUTH, **INVALID})
def list_charges(
    caller: Annotated[Caller, Depends(authenticated)],
    ctx: Context,
    reference: ReferenceFilter | None = None,
    status: ChargeStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """Charges, newest first, filtered by reference and/or status. The api and the payment
    service may look up one reference's charges; only the operator may list them all."""
    needed = Permission.LIST_CHARGES if reference is None else Permission.LOOK_UP_CHARGES
    _allowed(caller, needed)
    return {"charges": ctx.bank.list_charges(reference=reference, status=status, limit=limit)}


@router.get(
    "/admin/faults",
    response_model=FaultsOut,
    responses=AUTH,
    dependencies=[require(Permission.CONTROL_FAULTS)],
)
def get_faults(ctx: Context) -> Any:
    """The fault injection charge calls meet now (BANK_* settings until changed)."""
    return _faults_out(ctx.faults)


@router.put(
    "/admin/faults",
    response_model=FaultsOut,
    responses={**UNREADABLE, **AUTH, **INVALID},
    dependencies=[require(Permission.CONTROL_FAULTS)],
)
def set_faults(body: FaultsIn, ctx: Context) -> Any:
    """Change fault injection until changed again or the bank restarts (which goes back
    to BANK_ERROR_RATE, BANK_TIMEOUT_RATE and BANK_LATENCY_MS)."""
    ctx.faults.error_rate = body.error_rate
    ctx.faults.timeout_rate = body.timeout_rate
    ctx.faults.latency_ms = body.latency_ms
    log.warning(
        "fault injection set: error_rate=%s timeout_rate=%s latency_ms=%d",
        body.error_rate,
        body.timeout_rate,
        body.latency_ms,
    )
    return _faults_out(ctx.faults)
