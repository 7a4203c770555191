"""docs/ARCHITECTURE.md names only what exists: every path in it, and every consumer group."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
PATH = re.compile(r"`((?:src|tests|deploy|docs)/[^`\s]*)`")


def named_paths(text: str) -> set[str]:
    return set(PATH.findall(text))


def test_every_path_the_architecture_page_names_exists() -> None:
    paths = named_paths(DOC.read_text())
    assert len(paths) > 30  # the page is read, not empty
    missing = sorted(path for path in paths if not (ROOT / path).exists())
    assert missing == [], f"docs/ARCHITECTURE.md names paths that do not exist: {missing}"


def test_a_path_that_does_not_exist_is_caught() -> None:
    paths = named_paths("see `src/kafka_restaurants/nowhere.py` and `tests/unit/`")
    assert paths == {"src/kafka_restaurants/nowhere.py", "tests/unit/"}
    assert not (ROOT / "src/kafka_restaurants/nowhere.py").exists()


def test_the_consumer_groups_it_lists_are_the_code_s() -> None:
    from kafka_restaurants.api.order_status import GROUP_ID as API_GROUP
    from kafka_restaurants.kitchen.follower import GROUP_ID as KITCHEN_GROUP
    from kafka_restaurants.mailer.app import GROUP_ID as MAILER_GROUP
    from kafka_restaurants.transactions.app import GROUP_ID as PAYMENT_GROUP

    text = DOC.read_text()
    for group in (API_GROUP, KITCHEN_GROUP, MAILER_GROUP, PAYMENT_GROUP):
        assert f"`{group}`" in text, group
