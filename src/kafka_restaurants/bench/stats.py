"""Pure arithmetic of the benchmark: percentiles, verdicts, the rate search, the audit."""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


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
    # The kitchen's tickets (when the audit could ask the kitchen): exactly one per confirmed
    # order, none for any other.
    kitchen_checked: bool = False
    confirmed_without_ticket: int = 0
    duplicate_tickets: int = 0
    tickets_for_unconfirmed: int = 0

    @property
    def ticket_mismatches(self) -> int:
        """Confirmed orders without exactly one ticket, plus tickets no confirmed order owns."""
        return self.confirmed_without_ticket + self.duplicate_tickets + self.tickets_for_unconfirmed

    @property
    def lost(self) -> int:
        return self.not_terminal + self.confirmed_without_email


def audit_orders(
    statuses: Mapping[str, str],
    charges_per_order: Mapping[str, int],
    emails_per_order: Mapping[str, int],
    tickets_per_order: Mapping[str, int] | None = None,
) -> AuditResult:
    """Check every accepted order: terminal, charged at most once, one email iff confirmed,
    and (with `tickets_per_order`) one kitchen ticket iff confirmed."""
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
        **_ticket_audit(confirmed, declined + failed, tickets_per_order),
    )


def _ticket_audit(
    confirmed: list[str], unconfirmed: list[str], tickets: Mapping[str, int] | None
) -> dict[str, Any]:
    if tickets is None:
        return {}
    return {
        "kitchen_checked": True,
        "confirmed_without_ticket": sum(1 for o in confirmed if tickets.get(o, 0) == 0),
        "duplicate_tickets": sum(max(0, tickets.get(o, 0) - 1) for o in confirmed),
        "tickets_for_unconfirmed": sum(tickets.get(o, 0) for o in unconfirmed),
    }


# Answers that refuse an order with nothing written: admission control and the rate limit.
REFUSED_STATUSES = (503, 429)
OVERLOAD_GOAL_POST_P99_MS = 1000.0

_REASON = re.compile(r'"reason"\s*:\s*"([^"]{1,64})"')


def refusal_reason(status_code: int, body: str) -> str:
    """The `reason` of a 503/429 body (`in_flight`, `outbox_backlog`, ...), else `http <code>`."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    reason = parsed.get("reason") if isinstance(parsed, dict) else None
    if not isinstance(reason, str) or not reason:
        found = _REASON.search(body)
        reason = found.group(1) if found else None
    return reason or f"http {status_code}"


@dataclass(frozen=True)
class OverloadAnswer:
    """One POST of the overload step: its status, the refusal reason, its latencies."""

    status_code: int  # 0 when no answer came (timeout, dropped connection)
    accepted: bool
    post_ms: float  # from the scheduled time to the answer
    reason: str = ""  # for a refusal
    email_ms: float | None = None  # scheduled time to the confirmation email, if one came
    expects_email: bool = False  # accepted with a card that succeeds


def overload_summary(
    answers: Sequence[OverloadAnswer],
    offered_rate: float,
    base_rate: float,
    goal_ms: float = OVERLOAD_GOAL_POST_P99_MS,
) -> dict[str, Any]:
    """Share refused (503 + 429 over sent, by reason), POST and POST-to-email latency of the
    accepted orders, and whether their POST p99 stayed under the goal (None: none accepted)."""
    sent = len(answers)
    accepted = [a for a in answers if a.accepted]
    refused = [a for a in answers if not a.accepted and a.status_code in REFUSED_STATUSES]
    reasons: dict[str, int] = {}
    for answer in refused:
        key = answer.reason or f"http {answer.status_code}"
        reasons[key] = reasons.get(key, 0) + 1
    post = latency_summary([a.post_ms for a in accepted])
    emailed = [a.email_ms for a in accepted if a.email_ms is not None]
    p99 = post["p99"]
    return {
        "base_rate_per_s": base_rate,
        "offered_rate_per_s": offered_rate,
        "sent": sent,
        "accepted": len(accepted),
        "refused": len(refused),
        "refused_503": sum(1 for a in refused if a.status_code == 503),
        "refused_429": sum(1 for a in refused if a.status_code == 429),
        "refused_share": round(len(refused) / sent, 4) if sent else None,
        "refused_by_reason": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "other_errors": sent - len(accepted) - len(refused),
        "post_latency_ms": post,
        "e2e_latency_ms": latency_summary(emailed),
        "emails_expected": sum(1 for a in accepted if a.expects_email),
        "emails_seen": len(emailed),
        "goal_post_p99_ms": goal_ms,
        "goal_met": None if p99 is None else p99 < goal_ms,
    }
