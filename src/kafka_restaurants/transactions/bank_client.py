"""The bank's charge API over HTTP: one pooled keep-alive client per process."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from prometheus_client import Counter, Histogram

from kafka_restaurants.tls import https_verify
from kafka_restaurants.transactions.bank_wire import (
    BankAnswer,
    BankUnreachable,
    ChargeCall,
    ChargesFound,
    batch_answers,
    batch_requests,
)

log = logging.getLogger(__name__)

# Connecting is local and quick or not happening; a charge may legitimately take a few seconds.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=2.0, pool=10.0)

BANK_CALLS = Counter(
    "bank_charge_requests_total", "Charge requests sent to the bank, by answer", ["answer"]
)
BANK_SECONDS = Histogram("bank_charge_seconds", "Time for the bank to answer a charge request")


class BankClient:
    """Sends charge requests; every answer, even no answer, comes back as a `BankAnswer`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        ca_file: Path | None = None,
        max_connections: int = 64,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        )
        if not api_key:
            log.warning("BANK_API_KEY is not set: the bank will refuse the payment service")
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            limits=limits,
            transport=transport,
            # An https bank's certificate is checked against ca_file (TLS_CA_FILE).
            verify=https_verify(ca_file),
            headers={"Authorization": f"Bearer {api_key}"} if api_key else None,
        )

    async def charge_batch(self, requests: Sequence[ChargeCall]) -> list[BankAnswer]:
        """POST /v1/charges/batch: one answer per request, in order (each key in its entry)."""
        started = time.perf_counter()
        try:
            response = await self._http.post("/v1/charges/batch", json=batch_requests(requests))
        except httpx.TimeoutException as exc:
            BANK_CALLS.labels("timeout").inc()
            return [BankUnreachable(f"timed out ({type(exc).__name__})")] * len(requests)
        except httpx.TransportError as exc:
            BANK_CALLS.labels("unreachable").inc()
            return [BankUnreachable(f"{type(exc).__name__}: {exc}")] * len(requests)
        finally:
            BANK_SECONDS.observe(time.perf_counter() - started)
        BANK_CALLS.labels(str(response.status_code)).inc()
        _check_credentials(response)
        return batch_answers(response.status_code, _json_object(response), len(requests))

    async def charges_for(self, reference: str) -> ChargesFound | None:
        """GET /v1/charges?reference=...: the bank's charges for one order, None if it won't say."""
        try:
            response = await self._http.get("/v1/charges", params={"reference": reference})
        except httpx.HTTPError as exc:
            log.warning("charge lookup for %s failed: %s", reference, type(exc).__name__)
            return None
        _check_credentials(response)
        charges = _json_object(response).get("charges")
        if response.status_code != 200 or not isinstance(charges, list):
            log.warning("charge lookup for %s answered %d", reference, response.status_code)
            return None
        return ChargesFound(tuple(c for c in charges if isinstance(c, dict)))

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def __aenter__(self) -> BankClient:
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def _check_credentials(response: httpx.Response) -> None:
    # The orders are retried (never declined for it); the log says what to fix.
    if response.status_code in (401, 403):
        log.error(
            "the bank refused the payment service's key (%d) for %s: check BANK_API_KEY",
            response.status_code,
            response.request.url.path,
        )


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"detail": body}
