"""The operator's remote control of the bank's fault injection (GET/PUT /admin/faults)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import httpx

FAULTS_PATH = "/admin/faults"


@dataclass(frozen=True)
class BankFaults:
    """What charge calls meet: a share answered 503, a share that hang then answer 504, and
    latency added to every call."""

    error_rate: float = 0.0
    timeout_rate: float = 0.0
    latency_ms: int = 0


class BankFaultsRefused(RuntimeError):
    """The bank did not apply the faults (wrong key, bad values, ...): its status and answer."""


async def set_bank_faults(
    bank: httpx.AsyncClient,
    *,
    error_rate: float = 0.0,
    timeout_rate: float = 0.0,
    latency_ms: int = 0,
) -> BankFaults:
    """Set the bank's fault injection; `bank` has the bank's base URL and the operator's key
    (`keys.bearer(keys.operator_key(data_dir))`). Raises BankFaultsRefused unless applied.

    Call it with no arguments to turn faults off. A restarted bank goes back to its BANK_*
    settings, so set them again after a bank restart.
    """
    wanted = BankFaults(error_rate, timeout_rate, latency_ms)
    response = await bank.put(FAULTS_PATH, json=asdict(wanted))
    return _faults(response)


async def get_bank_faults(bank: httpx.AsyncClient) -> BankFaults:
    """The bank's fault injection now; raises BankFaultsRefused when it will not say."""
    return _faults(await bank.get(FAULTS_PATH))


def _faults(response: httpx.Response) -> BankFaults:
    if response.status_code != 200:
        raise BankFaultsRefused(
            f"bank answered {response.status_code} on {FAULTS_PATH}: {response.text[:300]}"
        )
    body = response.json()
    return BankFaults(
        error_rate=float(body["error_rate"]),
        timeout_rate=float(body["timeout_rate"]),
        latency_ms=int(body["latency_ms"]),
    )
