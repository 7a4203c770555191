"""Alembic environment for the kitchen's tables."""

from kafka_restaurants.db.alembic_env import run_migrations
from kafka_restaurants.kitchen import tables

run_migrations(tables.metadata)
