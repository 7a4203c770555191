"""The body of every service's Alembic env.py: run migrations on the connection we hand over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData

from kafka_restaurants.db.engine import create_db_engine


def run_migrations(target_metadata: MetaData) -> None:
    """Run online migrations, reusing the caller's connection when there is one."""
    config = context.config
    version_table = config.attributes.get("version_table", "alembic_version")
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_db_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            _run(conn, target_metadata, version_table)
        engine.dispose()
    else:
        _run(connection, target_metadata, version_table)


def _run(connection: object, target_metadata: MetaData, version_table: str) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        version_table=version_table,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
