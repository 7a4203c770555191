"""Versioned events that cross Kafka. Values are UTF-8 JSON; the key is always the order id.

Each event type has a schema version MAJOR.MINOR. A minor release only adds fields that have a
default; readers of an older minor ignore fields they do not know, and readers of a newer minor
fill in the defaults, so producers and consumers can be upgraded in any order. Anything else
(a field removed, renamed or retyped) is a new major version, which readers of the old major
dead-letter.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from pydantic_core import PydanticCustomError

# The error type a reader reports for an event of a major version it cannot read.
UNSUPPORTED_MAJOR_VERSION = "unsupported_major_version"


def _now() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    # Unknown fields are what a newer minor version adds: ignore them, never reject the event.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Customer(_Model):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr


class Delivery(_Model):
    mode: Literal["delivery", "pickup"]
    address: str | None = None


class OrderLine(_Model):
    menu_item_id: int
    name: str
    quantity: Annotated[int, Field(ge=1, le=50)]
    unit_price_minor: Annotated[int, Field(ge=0)]
    line_total_minor: Annotated[int, Field(ge=0)]


class PaymentToken(_Model):
    """What the bank gave us for the card: never the number, CVC or expiry."""

    token: str
    brand: str
    last4: Annotated[str, Field(pattern=r"^\d{4}$")]


class Event(_Model):
    """Common envelope fields; subclasses name their type and schema version."""

    event_type: ClassVar[str]
    schema_minor: ClassVar[int] = 0
    # The body carries the major version, as it always did (readers from before minor versions
    # insist on 1 here); the minor travels in the schema_version header only.
    # A breaking change to a subclass overrides this default.
    schema_version: int = 1
    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = Field(default_factory=_now)
    order_id: str

    @classmethod
    def schema_major(cls) -> int:
        """The major schema version this class reads and writes."""
        return int(cls.model_fields["schema_version"].default)

    @classmethod
    def schema_version_text(cls) -> str:
        """This class's schema version as MAJOR.MINOR, as the header carries it."""
        return f"{cls.schema_major()}.{cls.schema_minor}"

    @field_validator("schema_version")
    @classmethod
    def _readable_major(cls, version: int) -> int:
        if version != cls.schema_major():
            raise PydanticCustomError(
                UNSUPPORTED_MAJOR_VERSION,
                "major version {version} cannot be read as {major}",
                {"version": version, "major": cls.schema_major()},
            )
        return version


class OrderDetails(_Model):
    """The order as the customer placed it, carried along so each consumer needs no lookups."""

    restaurant_id: int
    restaurant_name: str
    customer: Customer
    delivery: Delivery
    items: Annotated[list[OrderLine], Field(min_length=1, max_length=50)]
    total_minor: Annotated[int, Field(ge=0)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class OrderPlaced(Event):
    """A customer placed an order; it waits to be paid. Produced to `order`."""

    event_type: ClassVar[str] = "OrderPlaced"
    order: OrderDetails
    payment: PaymentToken


class OrderConfirmed(Event):
    """The bank charged the card; the order is confirmed. Produced to `order_confirm`."""

    event_type: ClassVar[str] = "OrderConfirmed"
    order: OrderDetails
    charge_id: str


# The decline code when the bank refused the charge request itself rather than the card: the
# order failed on our side and the customer was not charged.
PAYMENT_FAILED = "payment_failed"


class OrderDeclined(Event):
    """The bank declined the card (or, with decline_code `payment_failed`, refused the charge
    request itself). Produced to `order_declined`."""

    event_type: ClassVar[str] = "OrderDeclined"
    decline_code: str
    reason: str


class OrderStatus(StrEnum):
    """Where an order's payment stands: pending until the payment service (or the api's
    reconciler) decides; then confirmed, declined (the card) or failed (the payment itself)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """A final status never changes again."""
        return self is not OrderStatus.PENDING


FINAL_STATUSES = frozenset(status for status in OrderStatus if status.is_final)


class OrderStep(StrEnum):
    """What the kitchen did with a confirmed order, in the order it happens."""

    ACCEPTED = "accepted"
    READY = "ready"
    OUT_FOR_DELIVERY = "out_for_delivery"


class OrderStatusChanged(Event):
    """The restaurant moved a confirmed order on (pressed "Accept", "Ready" or "Out for
    delivery" on its kitchen screen). Produced to `order_status` by the kitchen."""

    event_type: ClassVar[str] = "OrderStatusChanged"
    restaurant_id: int
    step: OrderStep


EVENT_TYPES: dict[str, type[Event]] = {
    cls.event_type: cls for cls in (OrderPlaced, OrderConfirmed, OrderDeclined, OrderStatusChanged)
}
