"""Migrations build the api's schema from an empty database on SQLite and PostgreSQL."""

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kafka_restaurants.db import create_db_engine, migrate


def test_api_migrations_from_empty(database_url: str) -> None:
    migrate("api", database_url)
    migrate("api", database_url)  # a second run is a no-op
    engine = create_db_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"restaurants", "menu_items", "search_terms", "alembic_version_api"} <= tables


@pytest.mark.parametrize("service", ["api", "bank", "mailer", "kitchen"])
def test_migrations_build_exactly_the_tables_the_code_declares(
    service: str, database_url: str
) -> None:
    """A model changed without a migration (or the reverse) shows up as a difference."""
    migrate(service, database_url)
    metadata = importlib.import_module(f"kafka_restaurants.{service}.tables").metadata
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": f"alembic_version_{service}"}
            )
            differences = [
                d
                for d in compare_metadata(context, metadata)
                if not _is_other_service_table(d, metadata)
            ]
    finally:
        engine.dispose()
    assert differences == []


def _is_other_service_table(difference: object, _metadata: object) -> bool:
    # Services may share one database: another service's tables are not ours to compare.
    return isinstance(difference, tuple) and difference[0] == "remove_table"
