"""Swapping a card for a bank token, so the card itself is never stored or published."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import quote

import httpx
import urllib3
from opentelemetry.trace import SpanKind, StatusCode

from kafka_restaurants.api.errors import FieldError, OrderRejected, PaymentServiceUnavailable
from kafka_restaurants.observability.tracing import TRACEPARENT, traceparent_of, tracer
from kafka_restaurants.settings import Settings
from kafka_restaurants.tls import client_ssl_context, https_verify

log = logging.getLogger(__name__)

CARD_FIELDS = {"number", "exp_month", "exp_year", "cvc"}
TOKENS_PATH = "/v1/tokens"
# The bank refuses our key (401) or what the key may do (403): our configuration, not the card.
REFUSED_CREDENTIALS = (401, 403)


def bank_key(settings: Settings) -> str | None:
    """This service's own key at the bank (BANK_API_KEY), if set."""
    return settings.bank_api_key.get_secret_value() if settings.bank_api_key else None


def bank_headers(api_key: str | None) -> dict[str, str]:
    """The headers that present this service's bank key (BANK_API_KEY)."""
    if not api_key:
        log.warning("BANK_API_KEY is not set: the bank will refuse the api's calls")
        return {}
    return {"Authorization": f"Bearer {api_key}"}


def _refused(status: int, what: str) -> None:
    log.error("the bank refused the api's key (%d) for %s: check BANK_API_KEY", status, what)


class CardDetails(Protocol):
    number: str
    exp_month: int
    exp_year: int
    cvc: str


@dataclass(frozen=True)
class PaymentToken:
    token: str
    brand: str
    last4: str


class CardTokens:
    """The bank's tokenization endpoint over a kept-alive connection pool.

    urllib3 rather than httpx: a POST costs about half the CPU (this runs once per order).
    The client span and `traceparent` the httpx instrumentation used to add are made here.
    """

    def __init__(
        self,
        bank_url: str,
        api_key: str | None,
        timeout: float = 5.0,
        *,
        ca_file: Path | None = None,
    ) -> None:
        self._auth = bank_headers(api_key)
        # An https bank's certificate and host name are checked against ca_file (TLS_CA_FILE).
        context = client_ssl_context(ca_file) if bank_url.startswith("https:") else None
        self._pool = urllib3.connection_from_url(
            bank_url,
            maxsize=32,
            block=False,  # past 32 concurrent calls open extra connections, don't queue
            timeout=urllib3.Timeout(connect=2.0, read=timeout),
            # A dropped kept-alive connection is reopened once; nothing else is retried.
            retries=urllib3.Retry(total=1, connect=1, read=0, status=0, redirect=0),
            **({"ssl_context": context} if context is not None else {}),
        )
        self._url = bank_url.rstrip("/") + TOKENS_PATH
        self._path = (urllib3.util.parse_url(bank_url).path or "").rstrip("/") + TOKENS_PATH

    def tokenize(
        self, card: CardDetails, reference: str, max_amount: int, currency: str
    ) -> PaymentToken:
        """A token that pays order `reference` at most `max_amount` `currency`, once, with its
        brand and last4; OrderRejected names the card field the bank refused."""
        body = json.dumps(
            {
                "number": card.number,
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "cvc": card.cvc,
                "reference": reference,
                "max_amount": max_amount,
                "currency": currency,
            }
        ).encode()
        status, data = self._post(body)
        if status in (200, 201) and isinstance(data, dict):
            return PaymentToken(token=data["token"], brand=data["brand"], last4=data["last4"])
        if status == 422:
            raise OrderRejected(card_errors(data))
        if status in REFUSED_CREDENTIALS:
            _refused(status, "creating a card token")
        raise PaymentServiceUnavailable(f"bank answered {status}")

    def _post(self, body: bytes) -> tuple[int, object]:
        # The span is closed before any OrderRejected is raised: a refused card is no error here.
        with tracer().start_as_current_span(
            f"POST {TOKENS_PATH}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": "POST", "url.full": self._url},
            record_exception=False,
        ) as span:
            headers = {"Content-Type": "application/json", **self._auth}
            traceparent = traceparent_of(span)
            if traceparent:
                headers[TRACEPARENT] = traceparent
            try:
                response = self._pool.urlopen(
                    "POST", self._path, body=body, headers=headers, preload_content=True
                )
            except urllib3.exceptions.HTTPError as exc:
                span.set_status(StatusCode.ERROR, type(exc).__name__)
                raise PaymentServiceUnavailable(f"bank unreachable: {type(exc).__name__}") from None
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                span.set_status(StatusCode.ERROR)
        try:
            return response.status, json.loads(response.data)
        except ValueError:
            return response.status, None

    def close(self) -> None:
        self._pool.close()


def card_errors(body: object) -> list[FieldError]:
    """The bank's 422 details, relocated under the order's `card` field."""
    errors: list[FieldError] = []
    details = body.get("detail") if isinstance(body, dict) else None
    for detail in details if isinstance(details, list) else []:
        loc = detail.get("loc", []) if isinstance(detail, dict) else []
        field = next((part for part in reversed(loc) if part in CARD_FIELDS), None)
        errors.append(
            FieldError(
                ("body", "card", field) if field else ("body", "card"),
                str(detail.get("msg", "card refused")),
                str(detail.get("type", "card_invalid")),
            )
        )
    return errors or [FieldError(("body", "card"), "the bank refused this card", "card_invalid")]


TokenVoid = Literal["voided", "used", "unknown"]
_VOID_ANSWERS: dict[int, TokenVoid] = {200: "voided", 409: "used", 404: "unknown"}


class ChargeLookup:
    """The bank's charges for one reference (GET /v1/charges?reference=...), for reconciliation."""

    def __init__(
        self,
        bank_url: str,
        api_key: str | None,
        timeout: float = 10.0,
        *,
        ca_file: Path | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=bank_url.rstrip("/"),
            timeout=timeout,
            headers=bank_headers(api_key),
            verify=https_verify(ca_file),
        )

    def charges_for(self, reference: str) -> list[dict[str, object]] | None:
        """The charges the bank holds for `reference`; None when the bank does not answer."""
        try:
            response = self._http.get("/v1/charges", params={"reference": reference})
            if response.status_code in REFUSED_CREDENTIALS:
                _refused(response.status_code, "looking up charges")
            charges = response.json().get("charges") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        if not isinstance(charges, list):
            return None
        return [charge for charge in charges if isinstance(charge, dict)]

    def void_token(self, token: str, reference: str) -> TokenVoid | None:
        """Make the order's unused token unusable at the bank: `voided` (no charge can come any
        more), `used` (a charge used it first), `unknown` (no such token for this order: none
        can pay it); None when the bank does not answer."""
        try:
            response = self._http.post(
                f"/v1/tokens/{quote(token, safe='')}/void", json={"reference": reference}
            )
        except httpx.HTTPError:
            return None
        if response.status_code in REFUSED_CREDENTIALS:
            _refused(response.status_code, "voiding a token")
        return _VOID_ANSWERS.get(response.status_code)

    def close(self) -> None:
        self._http.close()
