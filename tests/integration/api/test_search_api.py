"""GET /search and GET /restaurants/{id} against a real database, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def names(response: object) -> list[str]:
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    return [r["name"] for r in response.json()]  # type: ignore[attr-defined]


def test_seed_parameters_style_and_vegetarian(api: TestClient) -> None:
    found = names(api.get("/search", params={"restaurant_style": "ITALIAN", "vegetarian": "true"}))
    assert found == ["Amore Mio"]


def test_seed_parameters_name_substring_any_case(api: TestClient) -> None:
    assert names(api.get("/search", params={"restaurant_name": "HUMMUS"})) == ["Hummus Sababa"]
    assert names(api.get("/search", params={"restaurant_name": "pizza"})) == ["pizza Makpiza"]


def test_vegetarian_false_means_not_vegetarian(api: TestClient) -> None:
    found = names(api.get("/search", params={"restaurant_style": "italian", "vegetarian": "false"}))
    assert found == ["Cafe Italia", "pizza Makpiza"]


def test_delivery_filter(api: TestClient) -> None:
    found = names(api.get("/search", params={"delivery": "true", "restaurant_style": "israeli"}))
    assert found == ["Sabich"]


def test_no_parameters_lists_everything_alphabetically(api: TestClient) -> None:
    response = api.get("/search")
    assert response.headers["X-Total-Count"] == "7"
    found = names(response)
    assert found == sorted(found, key=str.casefold)
    assert {"id", "name", "style", "vegetarian", "delivery"} <= set(response.json()[0])


def test_free_text_tolerates_typos(api: TestClient) -> None:
    # "piza" is one letter from "pizza" and from "pita": the pizza places rank first.
    found = names(api.get("/search", params={"q": "piza"}))
    assert found[:2] == ["pizza Makpiza", "Amore Mio"]
    assert names(api.get("/search", params={"q": "shawrma"})) == ["Shawarma"]


def test_name_match_ranks_above_menu_match(api: TestClient) -> None:
    found = names(api.get("/search", params={"q": "hummus"}))
    assert found == ["Hummus Sababa", "Shawarma"]


def test_all_query_words_must_match(api: TestClient) -> None:
    assert names(api.get("/search", params={"q": "sabich pita"})) == ["Sabich"]


def test_free_text_combines_with_filters(api: TestClient) -> None:
    assert names(api.get("/search", params={"q": "pizza", "vegetarian": "true"})) == ["Amore Mio"]


def test_unknown_words_find_nothing(api: TestClient) -> None:
    response = api.get("/search", params={"q": "xylophone"})
    assert names(response) == []
    assert response.headers["X-Total-Count"] == "0"


def test_pagination(api: TestClient) -> None:
    everything = names(api.get("/search"))
    first = api.get("/search", params={"limit": 3})
    second = api.get("/search", params={"limit": 3, "offset": 3})
    assert names(first) + names(second) == everything[:6]
    assert first.headers["X-Total-Count"] == "7"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"vegetarian": "maybe"}, "vegetarian"),
        ({"delivery": "sometimes"}, "delivery"),
        ({"offset": "-1"}, "offset"),
        ({"limit": "1000"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_invalid_parameters_are_named(api: TestClient, params: dict[str, str], field: str) -> None:
    response = api.get("/search", params=params)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["query", field]]


def test_restaurant_with_menu(api: TestClient) -> None:
    [found] = api.get("/search", params={"restaurant_name": "cafe italia"}).json()
    response = api.get(f"/restaurants/{found['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Cafe Italia"
    assert [item["name"] for item in body["menu"]] == ["Lasagna", "Tiramisu"]
    assert body["menu"][0]["price_minor"] == 4000
    assert body["menu"][0]["currency"] == "ILS"


def test_unknown_restaurant_is_404(api: TestClient) -> None:
    response = api.get("/restaurants/999999")
    assert response.status_code == 404
    assert "999999" in response.json()["detail"]


def test_styles(api: TestClient) -> None:
    assert api.get("/styles").json() == ["Chinese", "Israeli", "Italian"]
