"""The hand-written restaurant catalog (restaurants.json) and the types that describe a catalog.

`RestaurantSpec` and `MenuItemSpec` are plain frozen dataclasses so the benchmark generator can
build hundreds of thousands of them cheaply; data read from JSON is validated by pydantic on
load (types, lengths that fit the tables, no unknown fields) and then by `check_restaurant` for
the rules that span fields (a vegetarian restaurant serves only vegetarian items, ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Annotated

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

__all__ = [
    "HANDWRITTEN_MENU_SIZE",
    "CatalogDataError",
    "MenuItemSpec",
    "RestaurantSpec",
    "check_catalog",
    "check_restaurant",
    "load_handwritten",
    "parse_catalog",
]

# How many menu items a hand-written restaurant may have (the issue asks for 6-20).
HANDWRITTEN_MENU_SIZE = (6, 20)

_DATA_FILE = "restaurants.json"

# Lengths match the columns in api/tables.py so a spec that validates always fits its row.
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Text120 = Annotated[str, Field(min_length=1, max_length=120)]
Text80 = Annotated[str, Field(min_length=1, max_length=80)]
Description = Annotated[str, Field(min_length=1, max_length=1000)]
PriceMinor = Annotated[int, Field(gt=0, le=10_000_000)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class CatalogDataError(ValueError):
    """Catalog data breaks a rule; the message names the restaurant, the field and the reason."""


@dataclass(frozen=True, slots=True)
class MenuItemSpec:
    """One dish or drink on a restaurant's menu; money in minor units (agorot for ILS)."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)

    name: Text200
    description: Description
    category: Text80
    price_minor: PriceMinor
    currency: Currency
    vegetarian: bool
    available: bool


@dataclass(frozen=True, slots=True)
class RestaurantSpec:
    """A restaurant with its menu, in menu order, ready to be written to the catalog tables."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)

    name: Text200
    style: Text80
    vegetarian: bool
    delivery: bool
    description: Description
    neighbourhood: Text120
    opening_hours: Text200
    menu: tuple[MenuItemSpec, ...]


_CATALOG_ADAPTER: TypeAdapter[list[RestaurantSpec]] = TypeAdapter(list[RestaurantSpec])


def check_restaurant(
    spec: RestaurantSpec, menu_size: tuple[int, int] = HANDWRITTEN_MENU_SIZE
) -> None:
    """Raise CatalogDataError if the restaurant breaks a rule that spans several fields."""
    where = f"restaurant {spec.name!r}"
    low, high = menu_size
    if not low <= len(spec.menu) <= high:
        raise CatalogDataError(
            f"{where}: menu has {len(spec.menu)} items, expected between {low} and {high}"
        )
    seen: set[str] = set()
    for position, item in enumerate(spec.menu):
        item_where = f"{where}: menu[{position}] {item.name!r}"
        if spec.vegetarian and not item.vegetarian:
            raise CatalogDataError(
                f"{item_where}: vegetarian is false but the restaurant is vegetarian"
            )
        if item.price_minor <= 0:
            raise CatalogDataError(f"{item_where}: price_minor must be positive")
        key = item.name.casefold()
        if key in seen:
            raise CatalogDataError(f"{item_where}: name appears twice on the menu")
        seen.add(key)


def check_catalog(
    specs: Iterable[RestaurantSpec], menu_size: tuple[int, int] = HANDWRITTEN_MENU_SIZE
) -> None:
    """Raise CatalogDataError unless every restaurant passes and names are unique (any case)."""
    names: set[str] = set()
    for spec in specs:
        check_restaurant(spec, menu_size)
        key = spec.name.casefold()
        if key in names:
            raise CatalogDataError(f"restaurant {spec.name!r}: name appears twice in the catalog")
        names.add(key)


def parse_catalog(raw_json: str | bytes, source: str = _DATA_FILE) -> list[RestaurantSpec]:
    """Validate catalog JSON (a list of restaurants) and return its specs."""
    try:
        specs = _CATALOG_ADAPTER.validate_json(raw_json)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_describe_location(raw_json, error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise CatalogDataError(f"{source}: {problems}") from exc
    try:
        check_catalog(specs)
    except CatalogDataError as exc:
        raise CatalogDataError(f"{source}: {exc}") from exc
    return specs


def load_handwritten() -> list[RestaurantSpec]:
    """Return the hand-written restaurants (the prototype's fifteen first), validated."""
    return list(_load_handwritten_cached())


@lru_cache(maxsize=1)
def _load_handwritten_cached() -> tuple[RestaurantSpec, ...]:
    raw = resources.files(__name__).joinpath(_DATA_FILE).read_bytes()
    return tuple(parse_catalog(raw))


def _describe_location(raw_json: str | bytes, loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as "restaurant #3 'Name': menu[2].price_minor"."""
    if not loc or not isinstance(loc[0], int):
        return ".".join(str(part) for part in loc) or "catalog"
    index = loc[0]
    label = f"restaurant #{index}"
    name = _name_at(raw_json, index)
    if name:
        label += f" {name!r}"
    rest = ""
    for part in loc[1:]:
        rest += f"[{part}]" if isinstance(part, int) else f".{part}"
    return label + (f": {rest.lstrip('.')}" if rest else "")


def _name_at(raw_json: str | bytes, index: int) -> str | None:
    """Best-effort name of the index-th restaurant, for error messages only."""
    try:
        entry = json.loads(raw_json)[index]
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) else None
