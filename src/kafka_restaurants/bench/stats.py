"""Pure arithmetic of the benchmark: percentiles, verdicts, the rate search, the audit."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(values_ms: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99/max/mean of latencies in milliseconds, rounded to 0.01 ms."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "p50": rounded(percentile(values_ms, 50)),
        "p95": rounded(percentile(values_ms, 95)),
        "p99": rounded(percentile(values_ms, 99)),
        "max": rounded(max(values_ms)) if values_ms else None,
        "mean": rounded(statistics.fmean(values_ms)) if values_ms else None,
    }


def median(values: Iterable[float | None]) -> float | None:
    """Median of the values that are not None, or None."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ratio(ours: float | None, reference: float | None) -> float | None:
    """ours / reference rounded to 4 places, or None when either is missing or zero."""
    if not ours or not reference:
        return None
    return round(ours / reference, 4)


@dataclass(frozen=True)
class StepOutcome:
    """What happened during one open-loop step at a fixed offered rate."""

    offered_rate: float
    planned: int
    sent: int
    accepted: int
    errors: int
    achieved_rate: float  # orders actually sent per second of the step
    completed: int  # expected outcomes observed (emails, or terminal declines)
    expected: int
    drain_seconds: float  # from the last POST until the last expected email (or the deadline)


def step_sustained(outcome: StepOutcome, max_drain_seconds: float) -> tuple[bool, str]:
    """Whether a step kept up with zero loss, and if not, why (the first reason found)."""
    if outcome.errors:
        return False, f"{outcome.errors} POSTs failed"
    if outcome.sent < outcome.planned or outcome.achieved_rate < 0.95 * outcome.offered_rate:
        return False, (
            f"the load generator sent only {outcome.achieved_rate:.0f}/s of "
            f"{outcome.offered_rate:.0f}/s"
        )
    if outcome.completed < outcome.expected:
        missing = outcome.expected - outcome.completed
        return False, f"{missing} orders not completed within {max_drain_seconds:.0f}s"
    if outcome.drain_seconds > max_drain_seconds:
        return False, f"backlog took {outcome.drain_seconds:.1f}s to drain"
    return True, "ok"


def allowed_drain(step_seconds: float, cap: float) -> float:
    """How long a step may take to drain after its last POST: 10% of it, 3 s at least."""
    return min(cap, max(3.0, 0.1 * step_seconds))


@dataclass
class RateSearch:
    """Bisection for the highest sustained rate between a passing `low` and failing `high`."""

    low: float  # highest rate known to hold (0 when none)
    high: float  # lowest rate known to fail
    granularity: float = 0.05  # stop when high/low is within 5%

    def next_rate(self, first: bool) -> float | None:
        """The next rate to try; the known-good rate first, then midpoints; None when done."""
        if first and self.low > 0:
            return self.low
        if self.low > 0 and self.high <= self.low * (1 + self.granularity):
            return None
        candidate = (self.low + self.high) / 2 if self.low > 0 else self.high / 2
        return float(max(1, round(candidate)))

    def record(self, rate: float, held: bool) -> None:
        """Narrow the bracket with a step's verdict."""
        if held:
            self.low = max(self.low, rate)
        else:
            self.high = min(self.high, rate)
            if self.low >= rate:  # a longer step failed where a short probe passed
                self.low = 0.0


# The status of an order the api (or the bank) could not be asked about.
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class AuditResult:
    """Orders and what each service says happened to them."""

    accepted: int
    confirmed: int
    declined: int
    not_terminal: int
    unverified: int  # the api or bank did not answer for these: neither lost nor fine
    confirmed_without_email: int
    double_charged: int
    charges: int
    duplicate_emails: int
    emails_for_declined: int  # declined or failed orders that were mailed a confirmation
    failed: int = 0  # the bank refused to process the charge: final, not charged, no email

    @property
    def lost(self) -> int:
        return self.not_terminal + self.confirmed_without_email


def audit_orders(
    statuses: Mapping[str, str],
    charges_per_order: Mapping[str, int],
    emails_per_order: Mapping[str, int],
) -> AuditResult:
    """Check every accepted order: terminal, charged at most once, one email iff confirmed."""
    confirmed = [o for o, s in statuses.items() if s == "confirmed"]
    declined = [o for o, s in statuses.items() if s == "declined"]
    failed = [o for o, s in statuses.items() if s == "failed"]
    unverified = sum(1 for s in statuses.values() if s == UNREACHABLE)
    return AuditResult(
        accepted=len(statuses),
        confirmed=len(confirmed),
        declined=len(declined),
        failed=len(failed),
        not_terminal=len(statuses) - len(confirmed) - len(declined) - len(failed) - unverified,
        unverified=unverified,
        confirmed_without_email=sum(1 for o in confirmed if emails_per_order.get(o, 0) == 0),
        double_charged=sum(1 for o in statuses if charges_per_order.get(o, 0) > 1),
        charges=sum(charges_per_order.get(o, 0) for o in statuses),
        duplicate_emails=sum(max(0, emails_per_order.get(o, 0) - 1) for o in statuses),
        emails_for_declined=sum(1 for o in declined + failed if emails_per_order.get(o, 0) > 0),
    )
