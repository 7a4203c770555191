"""Alembic environment for the api's tables."""

from kafka_restaurants.api import tables
from kafka_restaurants.db.alembic_env import run_migrations

run_migrations(tables.metadata)
