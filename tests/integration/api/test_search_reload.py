"""A re-seeded catalog reaches the in-memory search index of a running api."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kafka_restaurants.api import catalog
from kafka_restaurants.api.app import create_app
from kafka_restaurants.api.search_index import LiveCatalogIndex
from kafka_restaurants.db import create_db_engine, session_factory
from tests.fixtures.components import wait_for
from tests.integration.api.conftest import Item, Place, api_settings, seed_small_catalog

NEW_CATALOG = [Place("Ramen Ya", "Japanese", False, True, [Item("Tonkotsu ramen")])]


def reseed(url: str) -> None:
    engine = create_db_engine(url)
    with session_factory(engine)() as session, session.begin():
        catalog.write_catalog(session, NEW_CATALOG, replace=True)
    engine.dispose()


def test_running_api_answers_from_the_new_catalog_after_a_reseed(database_url: str) -> None:
    seed_small_catalog(database_url)
    with TestClient(create_app(api_settings(database_url))) as client:
        assert client.get("/search", params={"q": "tiramisu"}).json()[0]["name"] == "Cafe Italia"
        live: LiveCatalogIndex = client.app.state.search_index  # type: ignore[attr-defined]
        assert live.refresh() is False  # nothing changed yet
        reseed(database_url)
        assert live.refresh() is True
        assert client.get("/search", params={"q": "tiramisu"}).json() == []
        ramen = client.get("/search", params={"q": "ramen"})
        assert [r["name"] for r in ramen.json()] == ["Ramen Ya"]
        assert client.get("/styles").json() == ["Japanese"]


def test_the_watcher_reloads_by_itself(database_url: str) -> None:
    seed_small_catalog(database_url)
    engine = create_db_engine(database_url)
    reloaded: list[int] = []
    live = LiveCatalogIndex(
        session_factory(engine), poll_seconds=0.05, on_reload=lambda i: reloaded.append(len(i))
    )
    first = live.current.generation
    live.start()
    try:
        reseed(database_url)
        wait_for(lambda: live.current.generation > first, timeout=10, what="index reload")
        assert reloaded == [len(NEW_CATALOG)]
        assert len(live.current) == 1
    finally:
        live.stop()
        engine.dispose()
