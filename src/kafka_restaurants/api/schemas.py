"""Shapes of the api's HTTP answers, and the bounds its requests are held to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

# Ids are INTEGER columns: 32 bits on PostgreSQL (SQLite holds 64). A larger id names no row,
# and sent to the database it is an overflow error (a 500), so it is refused as a bad field.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]

ExpiryMonth = Annotated[int, Field(ge=1, le=12)]
# The bank takes 2 or 4 digits (26 or 2026) and says which; anything longer is no year at all.
ExpiryYear = Annotated[int, Field(ge=0, le=9999)]

# Text bound for a database column: PostgreSQL text cannot hold a NUL character, and neither
# database driver can encode an unpaired surrogate (which JSON's "\\udc00" escapes can carry).
# Either is refused naming the field, instead of failing in the database with a 500.
NO_NUL_PATTERN = r"^[^\x00]*$"


def _storable(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain a NUL character (\\x00)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(
            "unpaired_surrogate", "must be valid Unicode: it has an unpaired surrogate"
        ) from None
    return value


@dataclass(frozen=True)
class Storable:
    """`Annotated[str, <length, strip...>, STORABLE]`: text a database column can hold.

    Put it last: constraints after a validator are no longer the string's own (pydantic then
    checks lengths before stripping, with a list's wording). The OpenAPI document gets the NUL
    rule as a pattern.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_storable, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = NO_NUL_PATTERN
        return json_schema


STORABLE = Storable()

# What a request body that is not UTF-8 gets from FastAPI before any route runs.
UNREADABLE_BODY: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not UTF-8, so it cannot be read as JSON"}
}


class RestaurantSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    style: str
    vegetarian: bool
    delivery: bool
    description: str
    neighbourhood: str
    opening_hours: str


class MenuItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    category: str
    price_minor: int
    currency: str
    vegetarian: bool
    available: bool


class RestaurantDetail(RestaurantSummary):
    menu: list[MenuItemOut]


class OrderAccepted(BaseModel):
    order_id: str
    status: str
    total_minor: int
    currency: str


class OrderLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    menu_item_id: int
    name: str
    quantity: int
    unit_price_minor: int
    line_total_minor: int


class TimelineEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event: str
    at: datetime


class CustomerOut(BaseModel):
    name: str
    email: str


class DeliveryOut(BaseModel):
    mode: str
    address: str | None


class CardOut(BaseModel):
    brand: str
    last4: str


class OrderOut(BaseModel):
    order_id: str
    status: str
    decline_code: str | None
    decline_reason: str | None
    restaurant_id: int
    restaurant_name: str
    items: list[OrderLineOut]
    total_minor: int
    currency: str
    customer: CustomerOut
    delivery: DeliveryOut
    card: CardOut
    timeline: list[TimelineEntryOut]
    created_at: datetime
