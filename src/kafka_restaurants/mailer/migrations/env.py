"""Alembic environment for the mailer's tables."""

from kafka_restaurants.db.alembic_env import run_migrations
from kafka_restaurants.mailer import tables

run_migrations(tables.metadata)
