"""Judging a chaos run from what the api, the bank and the inbox say about each order. No I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from kafka_restaurants.bench.stats import UNREACHABLE, audit_orders

# The mailer's SMTP connections (mailer/smtp.py SmtpConfig.connections): a SIGKILL can resend
# at most the mail whose acceptance was being recorded on each, so at most this many per kill.
MAILER_CONNECTIONS = 8
# How long before a kill an accepted mail can still be unrecorded: the record follows the
# server's answer within milliseconds; a loaded box gets a generous margin.
RECORD_MARGIN_SECONDS = 5.0


@dataclass
class Duplicate:
    """An order mailed more than once, with when each copy arrived and the kill blamed, if any."""

    order_id: str
    copies: list[float]  # mailbox timestamps
    mailer_kill: str = ""  # the name of the kill that explains it; empty: none does
    smtp_outage: str = ""  # the name of the outage as the server woke from which a copy came


@dataclass
class Judgement:
    """The audit's numbers, the order ids behind each problem, and whether the run passed."""

    totals: dict[str, Any]
    not_final: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    confirmed_without_email: list[str] = field(default_factory=list)
    double_charged: list[str] = field(default_factory=list)
    mailed_but_not_confirmed: list[str] = field(default_factory=list)
    duplicates_after_mailer_kill: list[Duplicate] = field(default_factory=list)
    other_duplicates: list[Duplicate] = field(default_factory=list)
    kills_over_bound: list[str] = field(default_factory=list)
    faults_not_injected: list[str] = field(default_factory=list)
    setup_problems: list[str] = field(default_factory=list)  # e.g. instances not sharing a group

    @property
    def passed(self) -> bool:
        return not (
            self.not_final
            or self.unverified
            or self.confirmed_without_email
            or self.double_charged
            or self.mailed_but_not_confirmed
            or self.other_duplicates
            or self.kills_over_bound
            or self.faults_not_injected
            or self.setup_problems
        )

    def problems(self) -> list[str]:
        """One line per failed check, naming up to ten order ids."""

        def ids(values: Sequence[str]) -> str:
            more = f" and {len(values) - 10} more" if len(values) > 10 else ""
            return ", ".join(values[:10]) + more

        found = []
        for label, values in (
            ("accepted but not final", self.not_final),
            ("no answer from the api or bank", self.unverified),
            ("confirmed without an email", self.confirmed_without_email),
            ("charged more than once", self.double_charged),
            ("mailed though not confirmed", self.mailed_but_not_confirmed),
            (
                "mailed twice with no mailer kill to explain it",
                [d.order_id for d in self.other_duplicates],
            ),
            ("mailer kills that resent more than one mail per connection", self.kills_over_bound),
            ("faults not injected", self.faults_not_injected),
            ("problems with the system under test", self.setup_problems),
        ):
            if values:
                found.append(f"{len(values)} {label}: {ids(values)}")
        return found

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed, "problems": self.problems()}


def blame_mailer_kill(copies: Sequence[float], kills: Sequence[tuple[str, float]]) -> str:
    """The mailer kill that explains copies of one mail: the first copy accepted just before
    it (not yet recorded), a later copy after it (the replacement or another instance)."""
    ordered = sorted(copies)
    for name, at in kills:
        if at - RECORD_MARGIN_SECONDS <= ordered[0] <= at + 1.0 and ordered[-1] >= at:
            return name
    return ""


def blame_smtp_outage(copies: Sequence[float], outages: Sequence[tuple[str, float]]) -> str:
    """The SMTP outage (name, end) that explains copies of one mail: one stored as the paused
    server woke (a send the mailer had given up on, timed out, and retried)."""
    for name, end in outages:
        if any(end - 1.0 <= copy <= end + RECORD_MARGIN_SECONDS for copy in copies):
            return name
    return ""


def judge(
    statuses: Mapping[str, str],
    charges: Mapping[str, int],
    emails: Mapping[str, Sequence[float]],
    mailer_kills: Sequence[tuple[str, float]],
    faults_not_injected: Sequence[str] = (),
    setup_problems: Sequence[str] = (),
    smtp_outages: Sequence[tuple[str, float]] = (),
) -> Judgement:
    """Every accepted order final, charged at most once, one email iff confirmed.

    Duplicates a mailer SIGKILL explains are reported apart and tolerated up to one per SMTP
    connection per kill (the documented guarantee); any other duplicate fails the run, with the
    SMTP outage named when one explains it.
    """
    counts = {order: len(emails.get(order, ())) for order in statuses}
    totals = asdict(audit_orders(statuses, charges, counts))
    totals["lost"] = totals["not_terminal"] + totals["confirmed_without_email"]
    final = {"confirmed", "declined", "failed"}
    result = Judgement(
        totals=totals,
        faults_not_injected=list(faults_not_injected),
        setup_problems=list(setup_problems),
    )
    per_kill: dict[str, int] = {}
    for order, status in sorted(statuses.items()):
        if status == UNREACHABLE:
            result.unverified.append(order)
        elif status not in final:
            result.not_final.append(order)
        if charges.get(order, 0) > 1:
            result.double_charged.append(order)
        if status == "confirmed" and counts[order] == 0:
            result.confirmed_without_email.append(order)
        if status in ("declined", "failed") and counts[order] > 0:
            result.mailed_but_not_confirmed.append(order)
        if counts[order] > 1:
            duplicate = Duplicate(
                order, sorted(emails[order]), blame_mailer_kill(emails[order], mailer_kills)
            )
            if duplicate.mailer_kill:
                result.duplicates_after_mailer_kill.append(duplicate)
                per_kill[duplicate.mailer_kill] = per_kill.get(duplicate.mailer_kill, 0) + 1
            else:
                # Not tolerated (the guarantee is one email per order), but named.
                duplicate.smtp_outage = blame_smtp_outage(emails[order], smtp_outages)
                result.other_duplicates.append(duplicate)
    result.kills_over_bound = sorted(
        f"{kill}: {n} resent" for kill, n in per_kill.items() if n > MAILER_CONNECTIONS
    )
    return result
