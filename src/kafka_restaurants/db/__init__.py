"""Database access shared by the services: engines, sessions and migrations."""

from kafka_restaurants.db.engine import create_db_engine, engine_of, session_factory
from kafka_restaurants.db.migrations import migrate

__all__ = ["create_db_engine", "engine_of", "migrate", "session_factory"]
