"""Shapes of the api's HTTP requests and answers, and the bounds its requests are held to."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from kafka_restaurants.db.storable import STORABLE

# Ids are INTEGER columns: 32 bits on PostgreSQL (SQLite holds 64). A larger id names no row,
# and sent to the database it is an overflow error (a 500), so it is refused as a bad field.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]

ExpiryMonth = Annotated[int, Field(ge=1, le=12)]
# The bank takes 2 or 4 digits (26 or 2026) and says which; anything longer is no year at all.
ExpiryYear = Annotated[int, Field(ge=0, le=9999)]


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
    # The kitchen's furthest step on a confirmed order (accepted, ready, out_for_delivery),
    # null until the restaurant accepts it; each step is also in the timeline.
    step: str | None = None
    timeline: list[TimelineEntryOut]
    created_at: datetime


# --- Placing an order ---------------------------------------------------------------------

MAX_LINES = 50
MAX_QUANTITY = 50

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class LineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    menu_item_id: RowId
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)]


class CardRequest(BaseModel):
    """The card as typed; it goes to the bank and nowhere else."""

    model_config = ConfigDict(extra="forbid")

    number: Annotated[str, Field(min_length=1, max_length=40)]
    exp_month: ExpiryMonth
    exp_year: ExpiryYear
    cvc: Annotated[str, Field(min_length=1, max_length=10)]

    def __repr__(self) -> str:  # never print the card, even in a traceback
        return "CardRequest(<redacted>)"

    __str__ = __repr__


class PlaceOrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    restaurant_id: RowId
    items: Annotated[list[LineRequest], Field(min_length=1, max_length=MAX_LINES)]
    email: EmailStr
    name: Annotated[Text, StringConstraints(max_length=200), STORABLE]
    delivery_address: Annotated[Text, StringConstraints(max_length=500), STORABLE] | None = None
    fulfilment: Literal["delivery", "pickup"] | None = Field(
        default=None, description="Defaults to delivery when an address is given, else pickup"
    )
    card: CardRequest
