"""Composition root of the api process: builds clients and routes; connects nothing at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from kafka_restaurants import __version__
from kafka_restaurants.api.catalog import VocabularyCache
from kafka_restaurants.api.routes import catalog, health
from kafka_restaurants.db import create_db_engine, migrate, session_factory
from kafka_restaurants.messaging.probe import ClusterProbe
from kafka_restaurants.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """The api application, wired to the database and Kafka that `settings` name."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_db_engine(settings.api_database_url)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.vocabulary = VocabularyCache()
        app.state.kafka_probe = ClusterProbe(settings.bootstrap_servers)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="Kafka Restaurants API",
        version=__version__,
        description="Search restaurants, read menus, place and follow orders.",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(catalog.router)
    return app


def serve(settings: Settings) -> None:
    """Migrate, then serve the api on its port until stopped."""
    migrate("api", settings.api_database_url)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
