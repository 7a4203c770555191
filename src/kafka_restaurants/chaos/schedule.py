"""What the chaos run does and when: the fault schedule, printed before it starts. No I/O."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

KILL = "kill"  # SIGKILL the process group; the supervisor restarts it
PAUSE = "pause"  # SIGSTOP, then SIGCONT after `duration`
DISRUPT = "disrupt"  # begin a disruption of `target` (server down, error burst), end it later
SKIP = "skip"  # a fault this system cannot take; the reason is printed and reported


@dataclass(frozen=True)
class Fault:
    """One fault: at `at` seconds into the load, do `action` to the process named `target`."""

    at: float
    kind: str  # what it simulates: "crash api", "SMTP outage", ...
    action: str
    target: str = ""
    duration: float = 0.0
    reason: str = ""  # why a SKIP fault is skipped

    def describe(self) -> str:
        """One line of the printed schedule."""
        if self.action == SKIP:
            return f"   --    {self.kind}: skipped ({self.reason})"
        if self.action == DISRUPT:
            return f"{self.at:5.0f}s  {self.kind}: {self.target} for {self.duration:.0f}s"
        what = {KILL: "SIGKILL", PAUSE: f"SIGSTOP for {self.duration:.0f}s, then SIGCONT"}
        return f"{self.at:5.0f}s  {self.kind}: {what[self.action]} {self.target}"


@dataclass(frozen=True)
class ChaosConfig:
    """Load, schedule and audit limits of one run; `quick` and `full` are the presets."""

    quick: bool
    rate: float  # orders per second, open loop
    seconds: float  # how long orders are offered
    settle_seconds: float  # after the load, how long every accepted order has to become final
    instances: int = 2  # of transactions and of mailer
    restaurants: int = 200
    decline_every: int = 10  # every tenth order uses the declined test card
    results_dir: Path = Path("bench/results")
    # The system on a PostgreSQL server of the run's own (which it crashes and starts again),
    # or on SQLite files (no database server to take down).
    postgres: bool = False
    keep_data: bool = False
    faults: tuple[Fault, ...] = field(default=())

    @classmethod
    def preset(cls, quick: bool, **changes: object) -> ChaosConfig:
        """Quick: 15/s for 75 s, each fault once. Full: 50/s for 3 minutes, most faults twice."""
        base = (
            cls(quick=True, rate=15, seconds=75, settle_seconds=150)
            if quick
            else cls(quick=False, rate=50, seconds=180, settle_seconds=180)
        )
        merged = ChaosConfig(**{**base.__dict__, **changes})
        faults = build_schedule(merged.quick, merged.postgres)
        return ChaosConfig(**{**merged.__dict__, "faults": tuple(faults)})


def build_schedule(quick: bool, postgres: bool) -> list[Fault]:
    """Every fault kind, spread over the load so each one's effect settles before the next."""
    if quick:
        faults = [
            Fault(5, "crash of the api", KILL, "api"),
            Fault(10, "crash of a transactions instance", KILL, "transactions-1"),
            Fault(15, "pause of a mailer instance", PAUSE, "mailer-2", 10),
            Fault(20, "crash of the bank", KILL, "bank"),
            Fault(25, "pause of a transactions instance", PAUSE, "transactions-2", 10),
            Fault(30, "crash of a mailer instance", KILL, "mailer-1"),
            Fault(35, "SMTP outage", PAUSE, "mailbox", 30),
            Fault(40, "crash of the Kafka broker", KILL, "kafka"),
            Fault(50, "crash of a web replica", KILL, "web-1"),
        ]
    else:
        faults = [
            Fault(15, "crash of the api", KILL, "api"),
            Fault(25, "pause of a transactions instance", PAUSE, "transactions-1", 20),
            Fault(35, "crash of a mailer instance", KILL, "mailer-2"),
            Fault(50, "crash of the bank", KILL, "bank"),
            Fault(60, "pause of a mailer instance", PAUSE, "mailer-1", 15),
            Fault(70, "crash of a transactions instance", KILL, "transactions-2"),
            Fault(85, "SMTP outage", PAUSE, "mailbox", 30),
            Fault(95, "crash of a web replica", KILL, "web-1"),
            Fault(120, "crash of the Kafka broker", KILL, "kafka"),
            Fault(140, "crash of a mailer instance", KILL, "mailer-1"),
            Fault(150, "pause of a transactions instance", PAUSE, "transactions-2", 10),
            Fault(160, "crash of a transactions instance", KILL, "transactions-1"),
            Fault(165, "crash of the api", KILL, "api"),
        ]
    # After the bank's SIGKILL: a restarted bank forgets the faults it was told.
    at, seconds = (45, 10) if quick else (130, 20)
    faults.append(Fault(at, "bank error and timeout burst", DISRUPT, "bank", seconds))
    if postgres:
        at, seconds = (58, 8) if quick else (100, 15)
        faults.append(Fault(at, "database outage", DISRUPT, "postgresql", seconds))
    else:
        reason = "the system runs on SQLite files (CHAOS_POSTGRES=0, or no PostgreSQL server "
        reason += "programs): there is no database server to stop"
        faults.append(Fault(0, "database outage", SKIP, reason=reason))
    return faults


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def config_from_env(
    env: Mapping[str, str] | None = None, postgres_installed: bool = False
) -> ChaosConfig:
    """The preset CHAOS_QUICK picks; CHAOS_RATE, CHAOS_SECONDS, CHAOS_RESULTS_DIR adjust it.

    CHAOS_POSTGRES (default: on when the PostgreSQL server programs are installed) runs the
    system on a PostgreSQL server of the run's own, so the database outage can be done.
    """
    env = os.environ if env is None else env
    wants_postgres = env.get("CHAOS_POSTGRES")
    changes: dict[str, object] = {
        "results_dir": Path(env.get("CHAOS_RESULTS_DIR") or "bench/results"),
        "keep_data": _truthy(env.get("CHAOS_KEEP_DATA")),
        "postgres": postgres_installed if wants_postgres is None else _truthy(wants_postgres),
    }
    if changes["postgres"] and not postgres_installed:
        raise ValueError(
            "CHAOS_POSTGRES=1 needs the PostgreSQL server programs (apt-get install postgresql)"
        )
    for name, key in (("CHAOS_RATE", "rate"), ("CHAOS_SECONDS", "seconds")):
        if env.get(name):
            try:
                changes[key] = float(env[name])
            except ValueError as exc:
                raise ValueError(f"{name}: expected a number, got {env[name]!r}") from exc
    config = ChaosConfig.preset(_truthy(env.get("CHAOS_QUICK")), **changes)
    last = max(f.at + f.duration for f in config.faults)
    if last > config.seconds:
        raise ValueError(
            f"CHAOS_SECONDS={config.seconds:.0f} ends before the schedule does ({last:.0f}s)"
        )
    return config
