"""Alembic environment for the bank's tables."""

from kafka_restaurants.bank import tables
from kafka_restaurants.db.alembic_env import run_migrations

run_migrations(tables.metadata)
