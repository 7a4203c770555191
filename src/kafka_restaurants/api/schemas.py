"""Shapes of the api's HTTP answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


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
