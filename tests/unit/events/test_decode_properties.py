"""Property: whatever bytes and headers a topic holds, `decode` gives the typed event or raises
InvalidEvent (the dead-letter reason); no other exception ever reaches the consumer."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kafka_restaurants.events import (
    Event,
    InvalidEvent,
    OrderConfirmed,
    OrderDeclined,
    OrderPlaced,
    decode,
    encode,
)
from kafka_restaurants.events.codec import HEADER_EVENT_TYPE, HEADER_SCHEMA_VERSION

# Planted in every string of a message body: a dead-letter reason may name fields and error
# types, never repeat what the message carried (emails, names, addresses).
SECRET = "s3cr3t-ada@example.com"

EVENT_CLASSES: list[type[Event]] = [OrderPlaced, OrderConfirmed, OrderDeclined]

_ORDER = {
    "restaurant_id": 1,
    "restaurant_name": "Sabich",
    "customer": {"name": "Dana", "email": "dana@example.com"},
    "delivery": {"mode": "delivery", "address": "Herzl 1"},
    "items": [
        {
            "menu_item_id": 3,
            "name": "Sabich",
            "quantity": 2,
            "unit_price_minor": 3200,
            "line_total_minor": 6400,
        }
    ],
    "total_minor": 6400,
    "currency": "ILS",
}
# One good body per event type, for the strategies to start from and break.
GOOD_BODIES: dict[type[Event], dict[str, Any]] = {
    OrderPlaced: {
        "schema_version": 1,
        "order_id": "o-1",
        "order": _ORDER,
        "payment": {"token": "tok_1", "brand": "visa", "last4": "4242"},
    },
    OrderConfirmed: {"schema_version": 1, "order_id": "o-1", "order": _ORDER, "charge_id": "ch_1"},
    OrderDeclined: {
        "schema_version": 1,
        "order_id": "o-1",
        "decline_code": "card_declined",
        "reason": "The card was declined",
    },
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20).map(lambda text: SECRET + text),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def broken_bodies(draw: st.DrawFn) -> bytes:
    """A good body of some type with fields replaced, removed or added, as JSON."""
    body = json.loads(json.dumps(draw(st.sampled_from(list(GOOD_BODIES.values())))))

    def mutate(node: Any) -> Any:
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            action = draw(st.sampled_from(["replace", "remove", "descend", "add"]))
            if action == "replace":
                node[key] = draw(json_values)
            elif action == "remove":
                del node[key]
            elif action == "add":
                node[draw(st.text(max_size=10))] = draw(json_values)
            else:
                node[key] = mutate(node[key])
        elif isinstance(node, list) and node:
            index = draw(st.integers(0, len(node) - 1))
            node[index] = mutate(node[index])
        elif isinstance(node, str):
            return SECRET + draw(st.text(max_size=20))
        return node

    for _ in range(draw(st.integers(1, 4))):
        body = mutate(body)
    return json.dumps(body).encode()


values = st.one_of(
    st.none(),
    st.binary(max_size=200),
    json_values.map(lambda value: json.dumps(value).encode()),
    broken_bodies(),
    broken_bodies().map(lambda raw: raw[: len(raw) // 2]),  # cut short
)

header_values = st.one_of(
    st.none(),
    st.binary(max_size=30),
    st.sampled_from([b"OrderPlaced", b"OrderConfirmed", b"OrderDeclined", b"Nope"]),
    st.sampled_from([b"1", b"1.0", b"1.7", b"2.0", b"0", b"999999.999999", b"1.", b"\xff"]),
)
headers = st.none() | st.lists(
    st.tuples(
        st.sampled_from([HEADER_EVENT_TYPE, HEADER_SCHEMA_VERSION, "traceparent"]) | st.text(),
        header_values,
    ),
    max_size=4,
)


@settings(max_examples=400)
@given(value=values, message_headers=headers, expected=st.sampled_from(EVENT_CLASSES))
@example(value=b"[" * 100_000, message_headers=None, expected=OrderPlaced)  # nested too deep
@example(
    value=b'{"schema_version": 10000000000000000000000}', message_headers=[], expected=OrderPlaced
)
def test_any_message_decodes_to_its_event_or_a_dead_letter_reason(
    value: bytes | None,
    message_headers: list[tuple[str, bytes | None]] | None,
    expected: type[Event],
) -> None:
    try:
        event = decode(value, message_headers, expected)
    except InvalidEvent as refused:
        reason = str(refused)
        assert reason, "a dead-letter reason says something"
        assert SECRET not in reason, reason
    else:
        assert type(event) is expected


@given(expected=st.sampled_from(EVENT_CLASSES), data=st.data())
def test_every_good_body_decodes_under_any_matching_headers(
    expected: type[Event], data: st.DataObject
) -> None:
    event = expected.model_validate(GOOD_BODIES[expected])
    encoded = encode(event, traceparent=data.draw(st.none() | st.text(max_size=60)))
    # The headers in any order, each present or not, and a newer minor version.
    chosen = data.draw(st.lists(st.sampled_from(encoded.headers), unique=True))
    minor = data.draw(st.integers(0, 999_999))
    chosen = [
        (name, f"1.{minor}".encode() if name == HEADER_SCHEMA_VERSION else value)
        for name, value in chosen
    ]
    assert decode(encoded.value, chosen, expected) == event
