"""Database errors never carry the values of the statement that failed."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.exc import IntegrityError

from kafka_restaurants.db import create_db_engine

EMAIL = "dana.private@example.com"


def test_a_failed_statement_names_its_sql_but_not_its_values(database_url: str) -> None:
    metadata = MetaData()
    table = Table(
        "engine_probe",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email", String(200), nullable=False),
    )
    engine = create_db_engine(database_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(insert(table).values(id=1, email=EMAIL))
        with pytest.raises(IntegrityError) as failure, engine.begin() as connection:
            connection.execute(insert(table).values(id=1, email=EMAIL))
        assert "engine_probe" in str(failure.value)
        assert EMAIL not in str(failure.value)
    finally:
        metadata.drop_all(engine)
        engine.dispose()
