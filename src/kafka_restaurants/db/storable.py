"""Text a database column can hold: a pydantic marker that refuses what neither database stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

# Text bound for a database column: PostgreSQL text cannot hold a NUL character, and neither
# database driver can encode an unpaired surrogate (which JSON's "\\udc00" escapes can carry).
# Either is refused naming the field, instead of failing in the database with a 500.
NO_NUL_PATTERN = r"^[^\x00]*$"


def _storable(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain a NUL character (\\x00)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(
            "unpaired_surrogate", "must be valid Unicode: it has an unpaired surrogate"
        ) from None
    return value


@dataclass(frozen=True)
class Storable:
    """`Annotated[str, <length, strip...>, STORABLE]`: text a database column can hold.

    Put it last: constraints after a validator are no longer the string's own (pydantic then
    checks lengths before stripping, with a list's wording). The OpenAPI document gets the NUL
    rule as a pattern.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_storable, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = NO_NUL_PATTERN
        return json_schema


STORABLE = Storable()
