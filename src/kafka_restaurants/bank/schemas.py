"""HTTP request and response bodies of the bank."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SkipValidation,
    model_validator,
)

from kafka_restaurants.db.storable import STORABLE

ChargeStatus = Literal["succeeded", "declined"]

Token = Annotated[str, Field(min_length=1, max_length=64), STORABLE]
Reference = Annotated[str, Field(min_length=1, max_length=200), STORABLE]
ReferenceFilter = Annotated[str, Field(max_length=200), STORABLE]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=255), STORABLE]


class CardIn(BaseModel):
    """A card to tokenize. Formats are checked by `cards.check_card`, for clearer messages."""

    number: Annotated[str, Field(max_length=40)]
    exp_month: int
    exp_year: int
    cvc: Annotated[str, Field(max_length=10)]


# Integer minor units only: strict, so 10.5 or "10" is refused rather than coerced.
Amount = Annotated[int, Field(strict=True, gt=0, le=10**12)]
# Three letters, either case on the wire; stored and compared upper case.
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$"), AfterValidator(str.upper)]


class TokenIn(CardIn):
    """A card to tokenize for one order: the token pays that reference only, at most
    `max_amount` in `currency`, once, and expires (BANK_TOKEN_TTL_SECONDS)."""

    reference: Reference
    max_amount: Amount
    currency: Currency


class TokenVoidIn(BaseModel):
    """The order the token was made for: only that order's token is voided."""

    reference: Reference


class TokenVoidOut(BaseModel):
    """`voided`: no charge can use the token any more (already voided counts too)."""

    token: str
    status: Literal["voided"]


class ChargeIn(BaseModel):
    token: Token
    amount: Amount
    currency: Currency
    reference: Reference


class ChargeOut(BaseModel):
    charge_id: str
    status: ChargeStatus
    decline_code: str | None
    amount: int
    currency: str
    reference: str
    created_at: datetime


class ChargeList(BaseModel):
    charges: list[ChargeOut]


# One batch call carries at most this many charges (the payment service sends 100 at a time).
MAX_BATCH_CHARGES = 500


class BatchChargeIn(ChargeIn):
    """One charge of a batch: the single endpoint's body plus its Idempotency-Key."""

    idempotency_key: IdempotencyKey


class ChargeBatchIn(BaseModel):
    """A batch of charges. Only the list is checked here; each charge is checked on its own
    (`BatchChargeIn`), so a bad charge is refused alone and the others are still charged."""

    charges: Annotated[
        list[SkipValidation[BatchChargeIn]],
        Field(min_length=1, max_length=MAX_BATCH_CHARGES),
    ]


class ChargeResultOut(BaseModel):
    """What POST /v1/charges would have answered for one charge: its status code and body."""

    status_code: int
    body: dict[str, object]


class ChargeBatchOut(BaseModel):
    results: list[ChargeResultOut]


class FieldErrorOut(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class FieldErrorsOut(BaseModel):
    """A refusal that names the fields at fault, in FastAPI's validation error shape."""

    detail: list[FieldErrorOut]


class MessageOut(BaseModel):
    detail: str


class ProcessingErrorOut(BaseModel):
    """The processor failed, not the request: try again later (with the same Idempotency-Key)."""

    error: Literal["processing_error", "timeout"]
    message: str


class FaultsIn(BaseModel):
    """Fault injection for charge calls, changed at run time (the chaos suite)."""

    model_config = ConfigDict(extra="forbid")

    # Strict: JSON numbers only (false or "0.5" would otherwise be coerced).
    error_rate: Annotated[
        float, Field(strict=True, ge=0.0, le=1.0, description="Share answered 503")
    ]
    timeout_rate: Annotated[
        float, Field(strict=True, ge=0.0, le=1.0, description="Share that hang, then answer 504")
    ]
    latency_ms: Annotated[
        int, Field(strict=True, ge=0, le=60_000, description="Added before every charge call")
    ]

    @model_validator(mode="after")
    def _rates_fit(self) -> FaultsIn:
        if self.error_rate + self.timeout_rate > 1.0:
            raise ValueError("error_rate + timeout_rate must be at most 1")
        return self


class FaultsOut(BaseModel):
    error_rate: float
    timeout_rate: float
    latency_ms: int
