"""The bank's request types: text a database column can hold."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from kafka_restaurants.bank.schemas import Reference
from kafka_restaurants.db.storable import NO_NUL_PATTERN, STORABLE

PLAIN = TypeAdapter(Annotated[str, STORABLE])
REFERENCE = TypeAdapter(Reference)


def refusal(adapter: TypeAdapter[str], value: str) -> tuple[str, str]:
    with pytest.raises(ValidationError) as refused:
        adapter.validate_python(value)
    (error,) = refused.value.errors()
    assert not value or value not in error["msg"]  # the message never repeats the text
    return error["type"], error["msg"]


def test_a_nul_character_is_refused_saying_so() -> None:
    for adapter in (PLAIN, REFERENCE):
        assert refusal(adapter, "order\x00-1")[0] == "nul_character"


def test_an_unpaired_surrogate_is_refused() -> None:
    assert refusal(PLAIN, "order-\udc00")[0] == "unpaired_surrogate"
    # A string with length limits is checked by pydantic itself first.
    assert refusal(REFERENCE, "order-\udc00")[0] == "string_unicode"


def test_length_limits_keep_their_own_checks_and_words() -> None:
    assert refusal(REFERENCE, "")[0] == "string_too_short"
    assert refusal(REFERENCE, "r" * 201) == (
        "string_too_long",
        "String should have at most 200 characters",
    )
    assert REFERENCE.validate_python("order-1 ✓ שלום") == "order-1 ✓ שלום"


def test_the_openapi_document_says_nul_is_refused() -> None:
    schema = TypeAdapter(Annotated[str, Field(max_length=9), STORABLE]).json_schema()
    assert schema == {"type": "string", "maxLength": 9, "pattern": NO_NUL_PATTERN}
