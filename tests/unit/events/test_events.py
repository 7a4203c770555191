"""Event schemas: the checked-in JSON Schemas are current, and encoding round-trips."""

import json

import pytest

from kafka_restaurants.events import (
    Customer,
    Delivery,
    InvalidEvent,
    OrderDetails,
    OrderLine,
    OrderPlaced,
    OrderStatusChanged,
    OrderStep,
    PaymentToken,
    decode,
    encode,
)
from kafka_restaurants.events.codec import parse_schema_version
from kafka_restaurants.events.schemas import schema_documents, stale_files


def placed() -> OrderPlaced:
    return OrderPlaced(
        order_id="0b8f6c1e-4a52-4c4e-9a57-1f1b2a3c4d5e",
        order=OrderDetails(
            restaurant_id=1,
            restaurant_name="Sabich",
            customer=Customer(name="Dana", email="dana@example.com"),
            delivery=Delivery(mode="pickup"),
            items=[
                OrderLine(
                    menu_item_id=3,
                    name="Sabich",
                    quantity=2,
                    unit_price_minor=3200,
                    line_total_minor=6400,
                )
            ],
            total_minor=6400,
            currency="ILS",
        ),
        payment=PaymentToken(token="tok_abc", brand="visa", last4="4242"),
    )


def test_checked_in_schemas_are_current() -> None:
    assert stale_files() == [], "run: python -m kafka_restaurants.events.schemas"


def test_schemas_describe_every_event() -> None:
    documents = schema_documents()
    assert set(documents) == {
        "OrderPlaced.v1.schema.json",
        "OrderConfirmed.v1.schema.json",
        "OrderDeclined.v1.schema.json",
        "OrderStatusChanged.v1.schema.json",
    }
    status_schema = json.loads(documents["OrderStatusChanged.v1.schema.json"])
    assert status_schema["x-topic"] == "order_status"
    assert {"order_id", "restaurant_id", "step"} <= set(status_schema["required"])
    placed_schema = json.loads(documents["OrderPlaced.v1.schema.json"])
    assert placed_schema["x-topic"] == "order"
    assert "payment" in placed_schema["required"]


def test_encode_decode_round_trip_with_headers() -> None:
    event = placed()
    encoded = encode(event, traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    assert encoded.key == event.order_id.encode()
    headers = dict(encoded.headers)
    assert headers["event_type"] == b"OrderPlaced"
    assert headers["schema_version"] == b"1.0"
    assert headers["traceparent"].startswith(b"00-")
    assert decode(encoded.value, list(encoded.headers), OrderPlaced) == event


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (None, [], "no value"),
        (b"{not json", [], "not a valid OrderPlaced"),
        (b"{}", [], "not a valid OrderPlaced"),
        (b"{}", [("event_type", b"OrderDeclined")], "expected 'OrderPlaced'"),
    ],
)
def test_invalid_messages_say_why(value: bytes | None, headers: list, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode(value, headers, OrderPlaced)


def test_what_producers_wrote_before_minor_versions_still_decodes() -> None:
    event = placed()
    # Header "1" and the body of the Literal[1] era, which forbade extra fields.
    old_headers = [("event_type", b"OrderPlaced"), ("schema_version", b"1")]
    assert decode(event.model_dump_json().encode(), old_headers, OrderPlaced) == event
    assert decode(event.model_dump_json().encode(), [], OrderPlaced) == event


def test_a_newer_minor_version_with_unknown_fields_decodes() -> None:
    event = placed()
    body = json.loads(event.model_dump_json())
    body["loyalty_points"] = 12
    body["order"]["customer"]["phone"] = "+972-3-0000000"
    body["order"]["items"][0]["spice_level"] = "hot"
    body["payment"]["wallet"] = "apple_pay"
    headers = [("event_type", b"OrderPlaced"), ("schema_version", b"1.7")]
    assert decode(json.dumps(body).encode(), headers, OrderPlaced) == event


@pytest.mark.parametrize(
    ("headers", "body_version", "version"),
    [
        ([("schema_version", b"2.0")], 1, "2.0"),
        ([("schema_version", b"2")], 1, "2.0"),
        ([], 2, "2"),
        ([("schema_version", b"1.0")], 2, "2"),
        ([("schema_version", b"0.9")], 1, "0.9"),
    ],
)
def test_another_major_version_is_refused_saying_so(
    headers: list[tuple[str, bytes]], body_version: int, version: str
) -> None:
    body = json.loads(placed().model_dump_json())
    body["schema_version"] = body_version
    with pytest.raises(InvalidEvent) as caught:
        decode(json.dumps(body).encode(), headers, OrderPlaced)
    assert str(caught.value) == (
        f"unsupported schema version {version} of OrderPlaced: this consumer reads 1.x"
    )


@pytest.mark.parametrize(
    ("text", "version"),
    [("1", (1, 0)), ("1.0", (1, 0)), ("1.12", (1, 12)), (" 2.3 ", (2, 3))],
)
def test_schema_version_headers_are_major_dot_minor(text: str, version: tuple[int, int]) -> None:
    assert parse_schema_version(text) == version


@pytest.mark.parametrize("text", ["", "v1", "1.", "1.2.3", "one", "1.-1"])
def test_a_schema_version_header_that_is_no_version_is_refused(text: str) -> None:
    with pytest.raises(InvalidEvent, match="not a valid schema_version header"):
        parse_schema_version(text)


def test_an_invalid_event_names_fields_and_error_types_never_values() -> None:
    body = json.loads(placed().model_dump_json())
    body["order"]["customer"]["email"] = "dana@@example.com"
    body["order"]["customer"]["name"] = ""
    body["order"]["delivery"] = {"mode": "teleport", "address": "Dizengoff 100, Tel Aviv"}
    del body["order"]["total_minor"]
    with pytest.raises(InvalidEvent) as caught:
        decode(json.dumps(body).encode(), [], OrderPlaced)
    reason = str(caught.value)
    assert reason == (
        "not a valid OrderPlaced: order.customer.name: string_too_short; "
        "order.customer.email: value_error; order.delivery.mode: literal_error; "
        "order.total_minor: missing"
    )
    for value in ("dana", "example.com", "teleport", "Dizengoff"):
        assert value not in reason
    # Nothing chained either: a logged traceback of the error would print the cause.
    assert caught.value.__cause__ is None


def test_order_status_changed_round_trips_and_names_a_bad_step() -> None:
    event = OrderStatusChanged(order_id="o-1", restaurant_id=7, step=OrderStep.READY)
    encoded = encode(event)
    assert encoded.key == b"o-1"
    decoded = decode(encoded.value, list(encoded.headers), OrderStatusChanged)
    assert decoded.step is OrderStep.READY and decoded.restaurant_id == 7
    broken = encoded.value.replace(b'"ready"', b'"cooking"')
    with pytest.raises(InvalidEvent, match="step"):
        decode(broken, list(encoded.headers), OrderStatusChanged)
