"""The hand-written catalog (restaurants.json) and the deterministic benchmark generator."""

from __future__ import annotations

import json
import time
from itertools import islice

import pytest

from kafka_restaurants.api.catalog_data import (
    CatalogDataError,
    RestaurantSpec,
    check_catalog,
    load_handwritten,
    parse_catalog,
)
from kafka_restaurants.api.catalog_generator import (
    GENERATED_MENU_SIZE,
    generate_catalog,
    generated_styles,
)

# The prototype's ConfigMap, exactly: name, style, vegetarian, delivery.
PROTOTYPE = [
    ("Hummus Sababa", "Israeli", False, False),
    ("pizza Makpiza", "Italian", False, False),
    ("China town", "Chinese", False, False),
    ("China city", "Chinese", True, True),
    ("Shawarma", "Israeli", False, False),
    ("Sabich", "Israeli", True, True),
    ("Ima", "Israeli", True, False),
    ("Peking Duck House", "Chinese", True, True),
    ("Amore Mio", "Italian", True, True),
    ("Port Oren", "Israeli", False, True),
    ("The Chinese Wall", "Chinese", False, False),
    ("Long Sang", "Chinese", False, False),
    ("La Shuk", "Israeli", True, True),
    ("Cafe Italia", "Italian", False, True),
    ("Nam", "Israeli", False, False),
]


@pytest.fixture(scope="module")
def handwritten() -> list[RestaurantSpec]:
    return load_handwritten()


@pytest.fixture(scope="module")
def generated() -> list[RestaurantSpec]:
    return list(generate_catalog(10_000))


def by_name(specs: list[RestaurantSpec]) -> dict[str, RestaurantSpec]:
    return {spec.name: spec for spec in specs}


# --- hand-written catalog ---------------------------------------------------------------------


def test_prototype_restaurants_come_first_with_exact_names_styles_and_flags(handwritten):
    head = [(r.name, r.style, r.vegetarian, r.delivery) for r in handwritten[: len(PROTOTYPE)]]
    assert head == PROTOTYPE


def test_catalog_is_large_and_varied(handwritten):
    assert len(handwritten) >= 50
    styles = {r.style for r in handwritten}
    assert len(styles) >= 10
    assert {"Indian", "Japanese", "Mexican", "Thai", "Ethiopian", "Vegan", "Burgers"} <= styles


def test_every_menu_has_6_to_20_items_with_positive_prices(handwritten):
    for restaurant in handwritten:
        assert 6 <= len(restaurant.menu) <= 20, restaurant.name
        for item in restaurant.menu:
            assert item.price_minor > 0, (restaurant.name, item.name)
            assert isinstance(item.price_minor, int)
            assert item.currency == "ILS"
            assert item.name and item.description and item.category


def test_vegetarian_restaurants_serve_only_vegetarian_items(handwritten):
    vegetarian = [r for r in handwritten if r.vegetarian]
    assert len(vegetarian) >= 10
    for restaurant in vegetarian:
        meat = [item.name for item in restaurant.menu if not item.vegetarian]
        assert meat == [], restaurant.name


def test_restaurant_names_are_unique_and_plain(handwritten):
    names = [r.name.casefold() for r in handwritten]
    assert len(names) == len(set(names))
    for restaurant in handwritten:
        assert restaurant.name.isascii(), restaurant.name
        assert restaurant.description.strip() and restaurant.neighbourhood.strip()
        assert restaurant.opening_hours.strip()


def test_some_items_are_sold_out_so_order_validation_can_be_tested(handwritten):
    sold_out = [(r.name, i.name) for r in handwritten for i in r.menu if not i.available]
    assert len(sold_out) >= 3
    # Including one on a prototype restaurant and one on a vegetarian restaurant.
    assert ("Hummus Sababa", "Hummus with Minced Lamb") in sold_out
    assert any(by_name(handwritten)[name].vegetarian for name, _ in sold_out)


def test_signature_dishes_are_where_search_expects_them(handwritten):
    restaurants = by_name(handwritten)

    def items(name: str) -> list[str]:
        return [item.name.lower() for item in restaurants[name].menu]

    assert any("hummus" in item for item in items("Hummus Sababa"))
    assert any("sabich" in item for item in items("Sabich"))
    assert any("shawarma" in item for item in items("Shawarma"))
    assert any("peking duck" in item for item in items("Peking Duck House"))
    for name in ("pizza Makpiza", "Amore Mio", "Cafe Italia"):
        assert sum("pizza" in item for item in items(name)) >= 3, name
    # Amore Mio is the answer to the seed's own example query (italian, vegetarian).
    assert restaurants["Amore Mio"].style == "Italian" and restaurants["Amore Mio"].vegetarian


def test_load_returns_a_fresh_list_each_time(handwritten):
    first = load_handwritten()
    first.clear()
    assert load_handwritten() == handwritten


# --- validation on load -----------------------------------------------------------------------


def restaurant_json(**overrides: object) -> dict[str, object]:
    item = {
        "name": "Dish",
        "description": "Tasty.",
        "category": "Mains",
        "price_minor": 4200,
        "currency": "ILS",
        "vegetarian": True,
        "available": True,
    }
    restaurant: dict[str, object] = {
        "name": "Test Place",
        "style": "Israeli",
        "vegetarian": True,
        "delivery": False,
        "description": "A place.",
        "neighbourhood": "Florentin",
        "opening_hours": "Daily 12:00-23:00",
        "menu": [{**item, "name": f"Dish {n}"} for n in range(6)],
    }
    restaurant.update(overrides)
    return restaurant


def test_valid_json_parses_into_specs():
    [spec] = parse_catalog(json.dumps([restaurant_json()]))
    assert spec.name == "Test Place"
    assert spec.menu[0].price_minor == 4200
    assert isinstance(spec.menu, tuple)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r.update(vegetarian="yes"), "vegetarian"),
        (lambda r: r.update(name=""), "name"),
        (lambda r: r.update(stars=5), "stars"),
        (lambda r: r["menu"][2].update(price_minor=0), "menu[2].price_minor"),
        (lambda r: r["menu"][1].update(price_minor=42.5), "menu[1].price_minor"),
        (lambda r: r["menu"][0].update(currency="shekel"), "menu[0].currency"),
        (lambda r: r["menu"][0].pop("available"), "menu[0].available"),
    ],
)
def test_invalid_fields_are_named_in_the_error(mutate, expected):
    restaurant = restaurant_json()
    mutate(restaurant)
    with pytest.raises(CatalogDataError) as error:
        parse_catalog(json.dumps([restaurant]))
    assert expected in str(error.value)
    assert "'Test Place'" in str(error.value) or expected == "name"


def test_meat_on_a_vegetarian_restaurant_is_rejected():
    restaurant = restaurant_json()
    restaurant["menu"][3]["vegetarian"] = False  # type: ignore[index]
    with pytest.raises(CatalogDataError, match=r"menu\[3\].*vegetarian"):
        parse_catalog(json.dumps([restaurant]))


def test_menu_size_and_duplicate_names_are_rejected():
    short = restaurant_json()
    short["menu"] = short["menu"][:5]  # type: ignore[index]
    with pytest.raises(CatalogDataError, match="5 items, expected between 6 and 20"):
        parse_catalog(json.dumps([short]))
    with pytest.raises(CatalogDataError, match="name appears twice in the catalog"):
        parse_catalog(json.dumps([restaurant_json(), restaurant_json(name="TEST PLACE")]))
    twice = restaurant_json()
    twice["menu"][1]["name"] = "Dish 0"  # type: ignore[index]
    with pytest.raises(CatalogDataError, match="name appears twice on the menu"):
        parse_catalog(json.dumps([twice]))


# --- generated benchmark catalog --------------------------------------------------------------


def test_generator_is_deterministic_per_seed():
    first = list(generate_catalog(300, seed=7))
    assert first == list(generate_catalog(300, seed=7))
    assert first != list(generate_catalog(300, seed=8))
    # The default seed is fixed too, and a smaller catalog is a prefix of a bigger one.
    assert list(generate_catalog(50)) == list(islice(generate_catalog(400), 50))


def test_generated_catalog_has_unique_names_and_15_to_25_items(generated, handwritten):
    assert len(generated) == 10_000
    names = {r.name.casefold() for r in generated}
    assert len(names) == 10_000
    assert names.isdisjoint(r.name.casefold() for r in handwritten)
    low, high = GENERATED_MENU_SIZE
    assert (low, high) == (15, 25)
    sizes = [len(r.menu) for r in generated]
    assert min(sizes) == 15 and max(sizes) == 25
    assert 18 <= sum(sizes) / len(sizes) <= 22


def test_generated_catalog_follows_the_same_rules(generated, handwritten):
    # Menu size, positive prices, vegetarian consistency, unique menu and restaurant names.
    check_catalog(generated, GENERATED_MENU_SIZE)
    assert {r.style for r in generated} == {r.style for r in handwritten}
    assert generated_styles()[:3] == ["Israeli", "Italian", "Chinese"]
    vegetarian = sum(r.vegetarian for r in generated)
    delivery = sum(r.delivery for r in generated)
    sold_out = sum(not item.available for r in generated for item in r.menu)
    assert 1_000 < vegetarian < 4_000
    assert 3_000 < delivery < 8_000
    assert 0 < sold_out < 10_000


def test_generated_menus_come_from_their_style(generated, handwritten):
    """Free-text search is meaningful: a Thai place serves Thai dishes, a pizzeria pizza."""
    style_dishes: dict[str, set[str]] = {}
    for restaurant in handwritten:
        style_dishes.setdefault(restaurant.style, set()).update(i.name for i in restaurant.menu)
    for restaurant in generated[:500]:
        own = [i for i in restaurant.menu if i.name in style_dishes[restaurant.style]]
        assert len(own) >= len(restaurant.menu) // 2, restaurant.name
    italian = [r for r in generated if r.style == "Italian"]
    assert sum(any("Pizza" in i.name for i in r.menu) for r in italian) > len(italian) * 0.9


def test_generator_is_fast():
    started = time.perf_counter()
    count = sum(1 for _ in generate_catalog(10_000, seed=99))
    elapsed = time.perf_counter() - started
    assert count == 10_000
    assert elapsed < 2.0, f"10,000 restaurants took {elapsed:.2f}s"


def test_generator_count_edge_cases():
    assert list(generate_catalog(0)) == []
    with pytest.raises(ValueError, match="count"):
        generate_catalog(-1)
