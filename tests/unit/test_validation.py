"""Describing a validation error by field paths and error types, never by the values."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, EmailStr, Field, ValidationError

from kafka_restaurants.validation import MAX_PROBLEMS, describe_validation_error


class Line(BaseModel):
    quantity: int = Field(ge=1)


class Customer(BaseModel):
    email: EmailStr
    address: str
    lines: list[Line]


def error_of(model: type[BaseModel], data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value


def test_paths_and_types_are_named_and_values_are_not() -> None:
    error = error_of(
        Customer, {"email": "dana@@example.com", "lines": [{"quantity": 1}, {"quantity": 0}]}
    )
    assert "dana@@example.com" in str(error)  # what pydantic itself would have logged
    described = describe_validation_error(error)
    assert (
        described == "email: value_error; address: missing; lines[1].quantity: greater_than_equal"
    )
    assert "dana" not in described


def test_an_unreadable_document_is_named_as_a_whole() -> None:
    with pytest.raises(ValidationError) as caught:
        Customer.model_validate_json(b'{"email": "dana@example.com", "addr')
    assert describe_validation_error(caught.value) == "(whole value): json_invalid"


def test_a_long_list_of_problems_is_cut_short() -> None:
    error = error_of(Customer, {"lines": [{}] * 30})
    described = describe_validation_error(error).split("; ")
    assert len(described) == MAX_PROBLEMS + 1
    assert described[-1] == f"and {32 - MAX_PROBLEMS} more"
