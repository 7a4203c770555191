"""Shapes of the api's HTTP answers."""

from __future__ import annotations

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
