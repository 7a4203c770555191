"""Run a service's Alembic migrations programmatically; each service has its own history."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config

from kafka_restaurants.db.engine import _normalise, create_db_engine


def alembic_config(service: str, url: str) -> Config:
    """Alembic config for `kafka_restaurants.<service>.migrations` against `url`."""
    location = resources.files(f"kafka_restaurants.{service}") / "migrations"
    config = Config()
    config.set_main_option("script_location", str(location))
    config.set_main_option("sqlalchemy.url", _normalise(url).replace("%", "%%"))
    config.attributes["version_table"] = f"alembic_version_{service}"
    return config


def migrate(service: str, url: str) -> None:
    """Upgrade the service's tables to the newest revision."""
    config = alembic_config(service, url)
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
