"""JSON Schema files for every event, kept in docs/events/ and checked to be current.

python -m kafka_restaurants.events.schemas            # rewrite docs/events/
python -m kafka_restaurants.events.schemas --check    # exit 1 if a file is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kafka_restaurants.events.models import EVENT_TYPES
from kafka_restaurants.events.topics import ORDER, ORDER_CONFIRM, ORDER_DECLINED, ORDER_STATUS

TOPIC_OF = {
    "OrderPlaced": ORDER,
    "OrderConfirmed": ORDER_CONFIRM,
    "OrderDeclined": ORDER_DECLINED,
    "OrderStatusChanged": ORDER_STATUS,
}
DEFAULT_DIR = Path(__file__).resolve().parents[3] / "docs" / "events"


def schema_documents() -> dict[str, str]:
    """File name -> JSON Schema text, for every event type."""
    documents: dict[str, str] = {}
    for event_type, model in sorted(EVENT_TYPES.items()):
        major = model.schema_major()
        schema = model.model_json_schema()
        # A reader of this major takes no other (the body's field is a plain int in the model
        # only so that another major is reported as such rather than as a type error).
        schema["properties"]["schema_version"]["const"] = major
        schema["$id"] = f"urn:kafka-restaurants:event:{event_type}:v{major}"
        schema["x-event-type"] = event_type
        # MAJOR.MINOR, as the schema_version header carries it; the body holds the major.
        schema["x-schema-version"] = model.schema_version_text()
        schema["x-topic"] = TOPIC_OF[event_type]
        schema["x-key"] = "order_id"
        documents[f"{event_type}.v{major}.schema.json"] = json.dumps(schema, indent=2) + "\n"
    return documents


def stale_files(directory: Path = DEFAULT_DIR) -> list[str]:
    """Schema files that are missing or differ from the models."""
    return [
        name
        for name, text in schema_documents().items()
        if not (directory / name).exists() or (directory / name).read_text() != text
    ]


def write_schemas(directory: Path = DEFAULT_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in schema_documents().items():
        (directory / name).write_text(text)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = stale_files()
        if stale:
            print(
                f"stale event schemas: {', '.join(stale)}; run "
                "`python -m kafka_restaurants.events.schemas`",
                file=sys.stderr,
            )
            return 1
        return 0
    write_schemas()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
