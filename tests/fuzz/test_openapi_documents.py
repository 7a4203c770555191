"""The OpenAPI documents a fuzzer or a client generator works from: every request body is
described, and only JSON APIs are in them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kafka_restaurants.api.app import create_app as create_api
from kafka_restaurants.bank.app import create_app as create_bank
from tests.fuzz.conftest import api_settings, bank_settings, settings_of
from tests.fuzz.test_openapi_fuzz import NOT_JSON_APIS


def openapi_of(service: str, tmp_path: Path) -> dict[str, Any]:
    # Building the app connects nothing (its lifespan is not run): the document alone is read.
    url = f"sqlite:///{tmp_path / 'unused.sqlite'}"
    if service == "api":
        return create_api(settings_of(api_settings(url, "http://127.0.0.1:1", tmp_path))).openapi()
    return create_bank(settings_of(bank_settings(url, tmp_path))).openapi()


@pytest.mark.parametrize("service", ["api", "bank"])
def test_every_request_body_is_described(service: str, tmp_path: Path) -> None:
    document = openapi_of(service, tmp_path)
    posts = 0
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if method not in {"post", "put", "patch"}:
                continue
            posts += 1
            body = operation.get("requestBody")
            assert body is not None, f"{method.upper()} {path} has no requestBody"
            assert body["content"]["application/json"]["schema"], f"{method.upper()} {path}"
    assert posts, "no operation with a body: the document was not read"


@pytest.mark.parametrize("service", ["api", "bank"])
def test_only_json_apis_are_documented(service: str, tmp_path: Path) -> None:
    assert not set(openapi_of(service, tmp_path)["paths"]) & set(NOT_JSON_APIS)
