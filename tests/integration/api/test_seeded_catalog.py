"""The real seeded catalog: the seed's examples work, and SQLite and PostgreSQL agree exactly."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kafka_restaurants.api.app import create_app
from kafka_restaurants.api.seed import CatalogNotEmpty, seed_catalog, seed_if_empty
from kafka_restaurants.db import migrate
from tests.integration.api.conftest import api_settings

QUERIES: list[dict[str, str]] = [
    {},
    {"restaurant_style": "italian", "vegetarian": "true"},
    {"restaurant_style": "Chinese"},
    {"restaurant_name": "china"},
    {"vegetarian": "false", "delivery": "true"},
    {"q": "piza"},
    {"q": "shawrma"},
    {"q": "sushi"},
    {"q": "vegan burger"},
    {"q": "hummus", "delivery": "true"},
    {"q": "pad thai"},
    {"q": "injera"},
    {"q": "dumplings", "limit": "5", "offset": "2"},
    {"limit": "7", "offset": "14"},
]


def answers(url: str) -> list[tuple[str, list[tuple[int, str]]]]:
    with TestClient(create_app(api_settings(url))) as client:
        results = []
        for params in QUERIES:
            response = client.get("/search", params=params)
            assert response.status_code == 200, (params, response.text)
            results.append(
                (response.headers["X-Total-Count"], [(r["id"], r["name"]) for r in response.json()])
            )
        return results


def seeded(url: str) -> str:
    migrate("api", url)
    assert seed_if_empty(url) >= 50
    return url


def test_seed_examples(tmp_path: object) -> None:
    url = seeded(f"sqlite:///{tmp_path}/api.sqlite")
    with TestClient(create_app(api_settings(url))) as client:
        italian_vegetarian = client.get(
            "/search", params={"restaurant_style": "italian", "vegetarian": "true"}
        ).json()
        assert "Amore Mio" in [r["name"] for r in italian_vegetarian]
        assert all(r["style"] == "Italian" and r["vegetarian"] for r in italian_vegetarian)
        pizza = client.get("/search", params={"q": "piza"}).json()
        assert {"pizza Makpiza", "Amore Mio"} <= {r["name"] for r in pizza[:6]}
        assert client.get("/search", params={"q": "shawrma"}).json()[0]["name"] == "Shawarma"
        [makpiza] = client.get("/search", params={"restaurant_name": "MAKPIZA"}).json()
        menu = client.get(f"/restaurants/{makpiza['id']}").json()["menu"]
        assert 6 <= len(menu) <= 20


def test_seeding_twice_does_not_duplicate(tmp_path: object) -> None:
    url = seeded(f"sqlite:///{tmp_path}/api.sqlite")
    assert seed_if_empty(url) == 0
    try:
        seed_catalog(url)
    except CatalogNotEmpty as exc:
        assert "--replace" in str(exc)
    else:
        raise AssertionError("seeding a full catalog must refuse")


def test_sqlite_and_postgresql_give_identical_results(tmp_path: object, postgres_url: str) -> None:
    on_sqlite = answers(seeded(f"sqlite:///{tmp_path}/api.sqlite"))
    on_postgres = answers(seeded(postgres_url))
    assert on_sqlite == on_postgres
    assert all(total != "0" for total, _ in on_sqlite)  # every query found something
