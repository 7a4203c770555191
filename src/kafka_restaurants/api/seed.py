"""Filling the catalog: the hand-written restaurants, plus generated ones for benchmarks."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from kafka_restaurants.api import catalog
from kafka_restaurants.api.catalog_data import load_handwritten
from kafka_restaurants.api.catalog_generator import generate_catalog
from kafka_restaurants.db import create_db_engine, session_factory


class CatalogNotEmpty(RuntimeError):
    """Seeding would mix a new catalog into an existing one."""


def seed_catalog(
    database_url: str,
    restaurants: int | None = None,
    *,
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the hand-written catalog, topped up with generated restaurants to `restaurants`.

    Returns how many restaurants were written. Refuses to touch a non-empty catalog unless
    `replace` is set, so a second `up` never duplicates restaurants.
    """
    handwritten = load_handwritten()
    wanted = max(restaurants or len(handwritten), len(handwritten))
    specs = itertools.chain(handwritten, generate_catalog(wanted - len(handwritten)))
    engine = create_db_engine(database_url)
    try:
        with session_factory(engine)() as session, session.begin():
            if catalog.catalog_size(session) and not replace:
                raise CatalogNotEmpty(
                    "the catalog already has restaurants; pass --replace to start again"
                )
            return catalog.write_catalog(session, specs, replace=replace, progress=progress)
    finally:
        engine.dispose()


def seed_if_empty(database_url: str) -> int:
    """Load the hand-written catalog into an empty database; returns how many were written."""
    try:
        return seed_catalog(database_url)
    except CatalogNotEmpty:
        return 0
