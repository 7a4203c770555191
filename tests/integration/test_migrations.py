"""Migrations build the api's schema from an empty database on SQLite and PostgreSQL."""

from sqlalchemy import inspect

from kafka_restaurants.db import create_db_engine, migrate


def test_api_migrations_from_empty(database_url: str) -> None:
    migrate("api", database_url)
    migrate("api", database_url)  # a second run is a no-op
    engine = create_db_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"restaurants", "menu_items", "search_terms", "alembic_version_api"} <= tables
