"""A large, deterministic, believable restaurant catalog for benchmarks (`restaurants seed`).

Menus are drawn from per-style pools built from the hand-written restaurants' dishes, so free
text search over menu items behaves on the generated catalog as it does on the real one
("pad thai" finds Thai places, "khachapuri" Georgian ones). Output depends only on `count`, `seed`
and the hand-written data: everything random comes from one `random.Random(seed)`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from random import Random

from kafka_restaurants.api.catalog_data import MenuItemSpec, RestaurantSpec, load_handwritten

__all__ = ["GENERATED_MENU_SIZE", "generate_catalog", "generated_styles"]

# Menu length of a generated restaurant ("~20 items each").
GENERATED_MENU_SIZE = (15, 25)

_DRINKS = "Drinks"

# Menus list these categories first, in this order; anything else goes between Mains and Sides.
_CATEGORY_ORDER = ("Starters", "Breads", "Pastries", "Sushi", "Tacos", "Pizza", "Pasta")
_LATE_CATEGORIES = ("Sides", "Desserts", _DRINKS)

# Drinks, sides and desserts any restaurant might add; all vegetarian so they can fill any menu.
_GENERIC_EXTRAS: tuple[tuple[str, str, str, int], ...] = (
    ("Mineral Water", "Still mineral water, 500 ml.", _DRINKS, 800),
    ("Sparkling Water", "Sparkling water, 500 ml.", _DRINKS, 1000),
    ("Cola", "A cold bottle of cola.", _DRINKS, 1000),
    ("Diet Cola", "A cold bottle of diet cola.", _DRINKS, 1000),
    ("Fresh Orange Juice", "Squeezed to order.", _DRINKS, 1600),
    ("Homemade Lemonade", "Fresh lemons, sugar and mint.", _DRINKS, 1400),
    ("Espresso", "A short espresso.", _DRINKS, 900),
    ("Cappuccino", "Espresso with steamed, foamed milk.", _DRINKS, 1400),
    ("Herbal Tea", "Fresh mint, sage or lemon verbena.", _DRINKS, 1000),
    ("Local Lager", "Half a litre of Israeli lager.", _DRINKS, 2800),
    ("House Wine, Glass", "Red or white from the Galilee.", _DRINKS, 3200),
    ("Bread Basket", "Fresh bread with olive oil.", "Sides", 1400),
    ("Green Salad", "Mixed leaves with lemon vinaigrette.", "Sides", 2200),
    ("Steamed Vegetables", "Seasonal vegetables with olive oil and salt.", "Sides", 2200),
    ("Potato Wedges", "Roasted wedges with herbs.", "Sides", 2000),
    ("Chocolate Cake", "Dense dark chocolate cake.", "Desserts", 2800),
    ("Fruit Salad", "Seasonal fruit with mint.", "Desserts", 2200),
    ("Ice Cream, Three Scoops", "Vanilla, chocolate and pistachio.", "Desserts", 2400),
    ("Cheesecake", "Baked cheesecake with a biscuit base.", "Desserts", 3000),
)

# Two word lists per style; names are "<first> <second> <number>", e.g. "Golden Dragon Kitchen 417".
_NAME_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Israeli": (
        ("Sababa", "Yalla", "Habibi", "Bustan", "Zaatar", "Tahini", "Levant", "Carmel", "Gefen"),
        ("Kitchen", "Grill", "Bar", "Corner", "Street Food", "Eatery"),
    ),
    "Italian": (
        ("Bella", "Nonna", "Trattoria", "Osteria", "Vesuvio", "Toscana", "Roma", "Dolce Vita"),
        ("Pizzeria", "Cucina", "Pasta Bar", "Trattoria", "Forno", "Bistro"),
    ),
    "Chinese": (
        ("Golden Dragon", "Jade Garden", "Lucky Panda", "Red Lantern", "Lotus", "Silk Road"),
        ("Kitchen", "House", "Palace", "Garden", "Noodle Bar", "Express"),
    ),
    "Indian": (
        ("Spice", "Masala", "Taj", "Maharaja", "Curry Leaf", "Saffron", "Bombay", "Delhi"),
        ("Kitchen", "Palace", "House", "Tandoor", "Dhaba", "Express"),
    ),
    "Japanese": (
        ("Sakura", "Kyoto", "Tokyo", "Koi", "Hana", "Umami", "Fuji", "Kaizen"),
        ("Sushi", "Ramen", "Izakaya", "Sushi Bar", "Kitchen", "Noodle House"),
    ),
    "Mexican": (
        ("El Sol", "La Luna", "Cactus", "Chili", "Azteca", "Oaxaca", "Mariachi", "Jalapeno"),
        ("Taqueria", "Cantina", "Cocina", "Taco Bar", "Grill", "Burrito House"),
    ),
    "Thai": (
        ("Bangkok", "Siam", "Thai Orchid", "Lemongrass", "Chiang Mai", "Tuk Tuk", "Basil"),
        ("Kitchen", "Street", "House", "Noodle Bar", "Garden", "Express"),
    ),
    "Ethiopian": (
        ("Habesha", "Addis", "Lalibela", "Gondar", "Axum", "Blue Nile", "Injera"),
        ("Kitchen", "House", "Restaurant", "Table", "Cafe", "Corner"),
    ),
    "Vegan": (
        ("Green", "Sprout", "Leaf", "Harvest", "Roots", "Garden", "Plant", "Seed"),
        ("Kitchen", "Bowl", "Table", "Cafe", "Eatery", "Bar"),
    ),
    "Burgers": (
        ("Smash", "Big Bite", "Patty", "Bun", "Grill", "Juicy", "Flame", "Double"),
        ("Burgers", "Burger Bar", "Burger Joint", "Diner", "Grill House", "Burger Co"),
    ),
    "Georgian": (
        ("Tbilisi", "Batumi", "Kartuli", "Supra", "Kazbegi", "Mtskheta", "Kakheti"),
        ("Kitchen", "House", "Tavern", "Khinkali House", "Table", "Cellar"),
    ),
    "Yemenite": (
        ("Sanaa", "Aden", "Hawaij", "Saluf", "Malawach", "Teimani", "Jachnun"),
        ("Kitchen", "Soup House", "Bakery", "Corner", "Table", "Grill"),
    ),
    "Vietnamese": (
        ("Saigon", "Hanoi", "Pho", "Lotus", "Mekong", "Hoi An", "Little Vietnam"),
        ("Kitchen", "Noodle Bar", "Pho House", "Street Food", "Banh Mi", "Cafe"),
    ),
    "Greek": (
        ("Mykonos", "Santorini", "Olympus", "Athena", "Zorba", "Aegean", "Crete"),
        ("Taverna", "Grill", "Kitchen", "Souvlaki Bar", "Meze House", "Ouzeri"),
    ),
    "Lebanese": (
        ("Beirut", "Cedar", "Byblos", "Baalbek", "Zaatar", "Levant", "Tripoli"),
        ("Grill", "Mezze", "Kitchen", "House", "Manakish", "Table"),
    ),
    "French": (
        ("Le Petit", "Chez Marcel", "La Belle", "Bistro", "Cafe de Paris", "Lumiere"),
        ("Bistro", "Brasserie", "Cafe", "Table", "Maison", "Comptoir"),
    ),
    "Bakery": (
        ("Golden Crust", "Sourdough", "Rising", "Flour", "Oven", "Morning", "Sesame"),
        ("Bakery", "Boulangerie", "Bread Co", "Patisserie", "Bake House", "Cafe"),
    ),
    "Moroccan": (
        ("Marrakesh", "Casablanca", "Fez", "Atlas", "Tangier", "Agadir", "Sahara"),
        ("Tagine", "Kitchen", "House", "Couscous Bar", "Table", "Riad"),
    ),
    "Seafood": (
        ("Blue Wave", "Harbour", "Anchor", "Pier", "Fisherman's", "Coral", "Salt"),
        ("Fish House", "Seafood Bar", "Grill", "Oyster Bar", "Kitchen", "Catch"),
    ),
    "Korean": (
        ("Seoul", "Busan", "Kimchi", "Gangnam", "Han River", "Hanok", "Bibim"),
        ("Kitchen", "BBQ", "Chicken", "House", "Table", "Pocha"),
    ),
}
_DEFAULT_NAME_WORDS = (("Corner", "Garden", "City", "Market", "Harbour"), ("Kitchen", "House"))

_NOUNS = {
    "Burgers": "burger joint",
    "Bakery": "bakery",
    "Seafood": "seafood restaurant",
    "Vegan": "vegan kitchen",
}
_ADJECTIVES = (
    "cosy",
    "busy",
    "family-run",
    "neighbourhood",
    "casual",
    "lively",
    "small",
    "modern",
    "friendly",
    "popular",
)
_NEIGHBOURHOODS = (
    "Florentin",
    "Neve Tzedek",
    "Old Jaffa",
    "Jaffa Port",
    "Ajami",
    "Jaffa Flea Market",
    "Kerem HaTeimanim",
    "Lev HaIr",
    "Rothschild",
    "Sarona",
    "Ramat Aviv",
    "Old North",
    "New North",
    "Montefiore",
    "Neve Sha'anan",
    "Shapira",
    "Yad Eliyahu",
    "Bavli",
    "Levinsky Market",
    "Carmel Market",
    "Dizengoff",
    "Kikar HaMedina",
    "Hatikva",
    "Nahalat Binyamin",
    "Ramat HaHayal",
    "Noga",
    "Ben Yehuda",
)
_OPENING_HOURS = (
    "Sun-Thu 11:00-23:00, Fri 11:00-15:00",
    "Sun-Thu 12:00-00:00, Fri 12:00-16:00, Sat 19:00-00:00",
    "Daily 12:00-23:00",
    "Daily 11:30-22:30",
    "Sun-Fri 08:00-16:00",
    "Mon-Sat 18:00-01:00",
    "Sun-Thu 09:00-22:00, Fri 09:00-14:00",
    "Tue-Sun 12:00-23:30",
)
_PRICE_FACTORS = (0.85, 0.9, 0.95, 1.0, 1.0, 1.05, 1.1, 1.2, 1.3)
_VEGETARIAN_SHARE = 0.2
_DELIVERY_SHARE = 0.55
_SOLD_OUT_SHARE = 0.02
# A style offers vegetarian restaurants only if it has enough vegetarian dishes of its own.
_MIN_VEGETARIAN_DISHES = 10
# At most this many drinks, sides and desserts pad a menu, so the style's own dishes dominate.
_MAX_EXTRAS = 8


@dataclass(frozen=True, slots=True)
class _Dish:
    rank: int
    name: str
    category: str
    vegetarian: bool
    # One (available, sold out) pair of items per entry of _PRICE_FACTORS, built once: the
    # items are immutable, and sharing them is what keeps 10,000 restaurants under a second.
    priced: tuple[tuple[MenuItemSpec, MenuItemSpec], ...]


def _dish(name: str, description: str, category: str, price_minor: int, vegetarian: bool) -> _Dish:
    priced = []
    for factor in _PRICE_FACTORS:
        # Round to half shekels, the way menus print prices.
        price = max(100, round(price_minor * factor / 50) * 50)
        available, sold_out = (
            MenuItemSpec(name, description, category, price, "ILS", vegetarian, flag)
            for flag in (True, False)
        )
        priced.append((available, sold_out))
    return _Dish(_category_rank(category), name, category, vegetarian, tuple(priced))


@dataclass(frozen=True, slots=True)
class _StylePool:
    style: str
    dishes: tuple[_Dish, ...]
    vegetarian_dishes: tuple[_Dish, ...]
    extras: tuple[_Dish, ...]


def generated_styles() -> list[str]:
    """Styles the generator draws from: those of the hand-written catalog, in first-seen order."""
    return list(dict.fromkeys(spec.style for spec in load_handwritten()))


def generate_catalog(count: int, seed: int = 2024) -> Iterator[RestaurantSpec]:
    """Yield `count` restaurants with unique names; the same seed gives the same restaurants."""
    if count < 0:
        raise ValueError(f"count: must be zero or more, got {count}")
    return _generate(count, seed, _build_pools(load_handwritten()))


def _generate(count: int, seed: int, pools: Sequence[_StylePool]) -> Iterator[RestaurantSpec]:
    rng = Random(seed)
    used_names: set[str] = set()
    for index in range(count):
        pool = pools[rng.randrange(len(pools))]
        name = _unique_name(rng, pool.style, index, used_names)
        yield _restaurant(rng, pool, name)


def _unique_name(rng: Random, style: str, index: int, used: set[str]) -> str:
    firsts, seconds = _NAME_WORDS.get(style, _DEFAULT_NAME_WORDS)
    base = f"{rng.choice(firsts)} {rng.choice(seconds)}"
    for _ in range(8):
        name = f"{base} {rng.randint(1, 999)}"
        if name not in used:
            used.add(name)
            return name
    # Numbers above 999 are never drawn above, and index is unique, so this cannot collide.
    name = f"{base} {1000 + index}"
    used.add(name)
    return name


def _restaurant(rng: Random, pool: _StylePool, name: str) -> RestaurantSpec:
    vegetarian = pool.style == "Vegan" or (
        len(pool.vegetarian_dishes) >= _MIN_VEGETARIAN_DISHES and rng.random() < _VEGETARIAN_SHARE
    )
    delivery = rng.random() < _DELIVERY_SHARE
    dishes = pool.vegetarian_dishes if vegetarian else pool.dishes
    extras = pool.extras
    low, high = GENERATED_MENU_SIZE
    size = min(rng.randint(low, high), len(dishes) + min(len(extras), _MAX_EXTRAS))
    extra_count = max(size - len(dishes), rng.randint(2, 5))
    chosen = rng.sample(dishes, size - extra_count) + rng.sample(extras, extra_count)
    chosen.sort(key=_menu_order)

    factor = rng.randrange(len(_PRICE_FACTORS))
    random = rng.random
    menu = tuple(dish.priced[factor][random() < _SOLD_OUT_SHARE] for dish in chosen)
    signature = [dish.name for dish in chosen if dish.category not in _LATE_CATEGORIES][:2]
    neighbourhood = rng.choice(_NEIGHBOURHOODS)
    noun = _NOUNS.get(pool.style, f"{pool.style} restaurant")
    description = f"A {rng.choice(_ADJECTIVES)} {noun} in {neighbourhood}"
    if signature:
        description += f", known for its {' and '.join(signature)}"
    return RestaurantSpec(
        name=name,
        style=pool.style,
        vegetarian=vegetarian,
        delivery=delivery,
        description=description + ".",
        neighbourhood=neighbourhood,
        opening_hours=rng.choice(_OPENING_HOURS),
        menu=menu,
    )


def _menu_order(dish: _Dish) -> int:
    return dish.rank


def _category_rank(category: str) -> int:
    if category in _CATEGORY_ORDER:
        return _CATEGORY_ORDER.index(category)
    if category in _LATE_CATEGORIES:
        return 100 + _LATE_CATEGORIES.index(category)
    return 50


def _build_pools(handwritten: Sequence[RestaurantSpec]) -> list[_StylePool]:
    """Group the hand-written dishes by style (one entry per dish name) and add shared extras."""
    dishes_by_style: dict[str, dict[str, _Dish]] = {}
    drinks_by_style: dict[str, dict[str, _Dish]] = {}
    for spec in handwritten:
        dishes = dishes_by_style.setdefault(spec.style, {})
        drinks = drinks_by_style.setdefault(spec.style, {})
        for item in spec.menu:
            key = item.name.casefold()
            target = drinks if item.category == _DRINKS else dishes
            if key not in dishes and key not in drinks:
                target[key] = _dish(
                    item.name, item.description, item.category, item.price_minor, item.vegetarian
                )
    generic = [
        _dish(name, description, category, price, True)
        for name, description, category, price in _GENERIC_EXTRAS
    ]
    pools = []
    for style, dishes in dishes_by_style.items():
        own_drinks = drinks_by_style[style]
        extras = list(own_drinks.values()) + [
            dish
            for dish in generic
            if dish.name.casefold() not in dishes and dish.name.casefold() not in own_drinks
        ]
        # Extras fill vegetarian menus too, so keep only vegetarian ones.
        extras = [dish for dish in extras if dish.vegetarian]
        pools.append(
            _StylePool(
                style=style,
                dishes=tuple(dishes.values()),
                vegetarian_dishes=tuple(d for d in dishes.values() if d.vegetarian),
                extras=tuple(extras),
            )
        )
    return pools
