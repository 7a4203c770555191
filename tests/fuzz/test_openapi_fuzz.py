"""schemathesis against the api and the bank over HTTP: hostile input never gets a 5xx, and every
answer is one the OpenAPI document lists, in the shape it describes."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs
import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.bank import AS_OPERATOR
from tests.fuzz.conftest import Services

BATCH = "/v1/charges/batch"
FAULTS = "/admin/faults"
NO_FAULTS = {"error_rate": 0.0, "timeout_rate": 0.0, "latency_ms": 0}


@schemathesis.check
def each_bad_charge_is_refused_alone(ctx: CheckContext, response: Response, case: Case) -> None:
    """A batch the bank answers 200 has a 422 result for each charge that breaks the documented
    charge schema (negative_data_rejection, per charge)."""
    if case.operation.path != BATCH or response.status_code != 200:
        return
    assert isinstance(case.body, dict) and isinstance(case.body.get("charges"), list), (
        "a batch body without a `charges` list was accepted"
    )
    components = case.operation.schema.raw_schema["components"]["schemas"]
    charge_schema = jsonschema_rs.validator_for(components["BatchChargeIn"])
    results = response.json()["results"]
    assert len(results) == len(case.body["charges"]), "not one result per charge"
    for position, (charge, result) in enumerate(zip(case.body["charges"], results, strict=True)):
        # Only this way round: a charge the schema allows may still be refused for what JSON
        # Schema cannot say (an amount written 100.0 is an "integer" to it, not to the bank).
        if not charge_schema.is_valid(charge):
            assert result["status_code"] == 422, (
                f"charge {position} breaks the schema but was answered {result['status_code']}"
            )


CHECKS = [
    not_a_server_error,  # zero 5xx
    status_code_conformance,  # every status code is documented for its operation
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,  # every body matches its documented schema
    negative_data_rejection,  # a request the schema forbids is refused with a 4xx
]
# A batch refuses a charge that breaks the schema on its own (a 422 among its results) and
# charges the others, so a 200 to a schema-breaking batch is right; the check above says what
# that 200 must hold instead.
BATCH_CHECKS = [
    *(check for check in CHECKS if check is not negative_data_rejection),
    each_bad_charge_is_refused_alone,
]

# Not JSON APIs, so there is nothing to fuzz against a schema: /metrics is Prometheus text,
# /docs and /redoc are HTML, /openapi.json is the document itself. FastAPI keeps them out of
# the schema already; excluded by name so that adding one to the schema cannot slip in here.
NOT_JSON_APIS = ["/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"]

api = schemathesis.pytest.from_fixture("api_schema").exclude(path=NOT_JSON_APIS)
bank = schemathesis.pytest.from_fixture("bank_schema").exclude(path=NOT_JSON_APIS)


def _call_and_validate(case: Case, **kwargs: Any) -> Any:
    checks = BATCH_CHECKS if case.operation.path == BATCH else CHECKS
    if "headers" in kwargs and _negative(case, ParameterLocation.HEADER):
        # The fuzzer broke the headers (left out the required Authorization, say) and we put
        # the caller's key back: the request is no longer the invalid one it meant to send.
        checks = [check for check in checks if check is not negative_data_rejection]
    return case.call_and_validate(checks=checks, timeout=30, **kwargs)


def _negative(case: Case, location: ParameterLocation) -> bool:
    component = case.meta.components.get(location) if case.meta is not None else None
    return component is not None and component.mode == GenerationMode.NEGATIVE


@api.parametrize()
def test_api_answers_every_request_as_documented(case: Case) -> None:
    _call_and_validate(case)


@bank.parametrize()
def test_bank_answers_every_request_as_documented(case: Case, services: Services) -> None:
    # As the operator, who may call every route; ignored_auth sends each request again without
    # the key too, and fails unless that is refused (401).
    try:
        _call_and_validate(case, headers=AS_OPERATOR, additional_checks=[ignored_auth])
    finally:
        if case.operation.path == FAULTS and case.method.upper() == "PUT":
            # Faults the fuzzer set would fail the next charges (5xx by design): off again.
            reset = httpx.put(
                f"{services.bank.url}{FAULTS}", json=NO_FAULTS, headers=AS_OPERATOR, timeout=10
            )
            assert reset.status_code == 200, reset.text
