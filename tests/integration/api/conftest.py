"""An api app on a real database (SQLite file or PostgreSQL), called in-process over ASGI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from kafka_restaurants.api import catalog
from kafka_restaurants.api.app import create_app
from kafka_restaurants.db import create_db_engine, migrate, session_factory
from kafka_restaurants.settings import Settings


@dataclass
class Item:
    name: str
    price_minor: int = 4000
    description: str = ""
    category: str = "Mains"
    currency: str = "ILS"
    vegetarian: bool = False
    available: bool = True


@dataclass
class Place:
    name: str
    style: str
    vegetarian: bool
    delivery: bool
    menu: list[Item] = field(default_factory=list)
    description: str = ""
    neighbourhood: str = "Florentin"
    opening_hours: str = "Sun-Thu 12:00-23:00"


SMALL_CATALOG = [
    Place("Amore Mio", "Italian", True, True, [Item("Pizza Margherita", vegetarian=True)]),
    Place("pizza Makpiza", "Italian", False, False, [Item("Pizza Pepperoni"), Item("Calzone")]),
    Place("Cafe Italia", "Italian", False, True, [Item("Lasagna"), Item("Tiramisu")]),
    Place("Shawarma", "Israeli", False, False, [Item("Shawarma in pita"), Item("Hummus")]),
    Place("Hummus Sababa", "Israeli", False, False, [Item("Hummus masabacha"), Item("Falafel")]),
    Place("Sabich", "Israeli", True, True, [Item("Sabich in pita", vegetarian=True)]),
    Place("Peking Duck House", "Chinese", True, True, [Item("Tofu duck", vegetarian=True)]),
]


def seed_small_catalog(url: str) -> None:
    migrate("api", url)
    engine = create_db_engine(url)
    with session_factory(engine)() as session, session.begin():
        catalog.write_catalog(session, SMALL_CATALOG)
    engine.dispose()


def api_settings(database_url: str) -> Settings:
    # Port 1 is closed: readiness reports Kafka unreachable instead of hanging.
    return Settings.model_validate(
        {"DATABASE_URL": database_url, "BOOTSTRAP_SVR": "127.0.0.1:1", "API_WORKERS": "false"}
    )


@pytest.fixture
def api(database_url: str) -> Iterator[TestClient]:
    seed_small_catalog(database_url)
    with TestClient(create_app(api_settings(database_url))) as client:
        yield client
