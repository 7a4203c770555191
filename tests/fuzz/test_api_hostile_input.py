"""What the fuzzer found at the api, each pinned: an id beyond what the database holds names no
restaurant; in an order it, text no column can hold, an unbounded card expiry and a body that
is not UTF-8 are refused, naming the field, never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import ServiceProcess, start_api

# Raw JSON: the escape a client sends for an unpaired surrogate.
UNPAIRED_SURROGATE = "\\udc00"


def order(**changes: Any) -> dict[str, Any]:
    """A good order for the fuzz catalog's restaurant 1 (it delivers), with `changes` made."""
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}
    body: dict[str, Any] = {
        "restaurant_id": 1,
        "items": [{"menu_item_id": 1, "quantity": 2}],
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "delivery_address": "Herzl 1, Tel Aviv",
        "card": card,
    }
    for key, value in changes.items():
        if key.startswith("card_"):
            card[key.removeprefix("card_")] = value
        else:
            body[key] = value
    return body


def post_order(api: ServiceProcess, body: dict[str, Any] | str) -> httpx.Response:
    raw = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(
        f"{api.url}/orders",
        content=raw.encode(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )


def refused_fields(response: httpx.Response) -> list[tuple[str | int, ...]]:
    assert response.status_code == 422, response.text
    return [tuple(error["loc"]) for error in response.json()["detail"]]


def test_a_restaurant_id_beyond_the_database_is_no_restaurant(api_server: ServiceProcess) -> None:
    # A 404 like any unknown id (the web tier shows its "not found" page for it), not the
    # INTEGER overflow the database raised (a 500).
    url = f"{api_server.url}/restaurants"
    for unknown in ("289174547010738043486208", str(2**63), str(2**31), str(2**31 - 1), "0"):
        response = httpx.get(f"{url}/{unknown}")
        assert response.status_code == 404, (unknown, response.text)
        assert response.json() == {"detail": f"restaurant {unknown} does not exist"}
    assert httpx.get(f"{url}/1").json()["name"] == "Amore Mio"


def test_order_ids_beyond_the_database_are_refused_naming_the_field(
    api_server: ServiceProcess,
) -> None:
    assert refused_fields(post_order(api_server, order(restaurant_id=2**63))) == [
        ("body", "restaurant_id")
    ]
    huge_item = order(items=[{"menu_item_id": 289174547010738043486208, "quantity": 1}])
    assert refused_fields(post_order(api_server, huge_item)) == [
        ("body", "items", 0, "menu_item_id")
    ]


def test_text_no_column_can_hold_is_refused_naming_the_field(api_server: ServiceProcess) -> None:
    nul = post_order(api_server, order(name="Ada\x00Lovelace"))
    assert refused_fields(nul) == [("body", "name")]
    assert nul.json()["detail"][0]["type"] == "nul_character"
    nul = post_order(api_server, order(delivery_address="Herzl\x001"))
    assert refused_fields(nul) == [("body", "delivery_address")]
    raw = json.dumps(order()).replace("Herzl 1", UNPAIRED_SURROGATE)
    assert refused_fields(post_order(api_server, raw)) == [("body", "delivery_address")]


def test_card_expiry_is_bounded_by_the_api_itself(tmp_path: Path) -> None:
    # No bank listens on port 1: a 422 here comes from the api, before it asks the bank.
    api = start_api(f"sqlite:///{tmp_path / 'api.sqlite'}", "http://127.0.0.1:1", tmp_path)
    try:
        schema = httpx.get(f"{api.url}/openapi.json").json()["components"]["schemas"]
        card = schema["CardRequest"]["properties"]
        assert (card["exp_month"]["minimum"], card["exp_month"]["maximum"]) == (1, 12)
        assert (card["exp_year"]["minimum"], card["exp_year"]["maximum"]) == (0, 9999)
        for changes, field in (
            ({"card_exp_month": 13}, "exp_month"),
            ({"card_exp_month": 0}, "exp_month"),
            ({"card_exp_year": 10**30}, "exp_year"),
        ):
            response = post_order(api, order(**changes))
            assert refused_fields(response) == [("body", "card", field)], changes
    finally:
        api.stop()


def test_an_unreadable_order_body_is_a_documented_400(api_server: ServiceProcess) -> None:
    response = httpx.post(
        f"{api_server.url}/orders",
        content=b'{"\xff": 1}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    document = httpx.get(f"{api_server.url}/openapi.json").json()
    assert "400" in document["paths"]["/orders"]["post"]["responses"]


# Any text at all, unpaired surrogates included (st.text leaves them out unless asked).
# Any text at all, longer than the 200 characters a name may have, unpaired surrogates included
# (st.characters leaves them out unless told), and the characters that broke things often.
ANY_TEXT = st.text(
    st.characters(exclude_categories=()) | st.sampled_from(["\x00", "\udc00", " ", "\u3000"]),
    max_size=220,
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    # The servers serve every example alike; nothing in them needs resetting between examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=ANY_TEXT, address=ANY_TEXT)
@example(name="Ada\x00Lovelace", address="Herzl 1")
def test_any_customer_text_is_taken_or_refused_naming_the_field(
    api_server: ServiceProcess, name: str, address: str
) -> None:
    body = order(name="NAME", delivery_address="ADDRESS")
    # json.dumps escapes unpaired surrogates as \\udXXX, which the api's JSON reader turns back
    # into them: exactly what a hostile client can send.
    raw = json.dumps(body).replace('"NAME"', json.dumps(name))
    raw = raw.replace('"ADDRESS"', json.dumps(address))
    response = post_order(api_server, raw)
    assert response.status_code in (202, 422), response.text
    if response.status_code == 422:
        fields = {tuple(error["loc"]) for error in response.json()["detail"]}
        assert fields <= {("body", "name"), ("body", "delivery_address")}, fields
        return
    # Taken: the order reads back with the text as sent, less surrounding whitespace (pydantic
    # strips Unicode White_Space; str.strip also strips \x1c-\x1f, so compare both ways).
    placed = httpx.get(f"{api_server.url}/orders/{response.json()['order_id']}").json()
    for sent, stored in (
        (name, placed["customer"]["name"]),
        (address, placed["delivery"]["address"]),
    ):
        assert stored in sent and stored.strip() == sent.strip()
