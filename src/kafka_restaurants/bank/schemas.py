"""HTTP request and response bodies of the bank."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

ChargeStatus = Literal["succeeded", "declined"]


class CardIn(BaseModel):
    """A card to tokenize. Formats are checked by `cards.check_card`, for clearer messages."""

    number: Annotated[str, Field(max_length=40)]
    exp_month: int
    exp_year: int
    cvc: Annotated[str, Field(max_length=10)]


class TokenOut(BaseModel):
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class ChargeIn(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=64)]
    # Integer minor units only: strict, so 10.5 or "10" is refused rather than coerced.
    amount: Annotated[int, Field(strict=True, gt=0, le=10**12)]
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]
    reference: Annotated[str, Field(min_length=1, max_length=200)]

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


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

    idempotency_key: Annotated[str, Field(min_length=1, max_length=255)]


class ChargeBatchIn(BaseModel):
    charges: Annotated[list[BatchChargeIn], Field(min_length=1, max_length=MAX_BATCH_CHARGES)]


class BatchEnvelopeIn(BaseModel):
    """The batch body before its charges are checked one by one (a bad charge fails alone)."""

    charges: Annotated[list[object], Field(min_length=1, max_length=MAX_BATCH_CHARGES)]


class ChargeResultOut(BaseModel):
    """What POST /v1/charges would have answered for one charge: its status code and body."""

    status_code: int
    body: dict[str, object]


class ChargeBatchOut(BaseModel):
    results: list[ChargeResultOut]
