"""What a benchmark run does and against what, read from `BENCH_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Target:
    """Where an already running system answers; None fields mean the harness starts one."""

    api: str
    mailbox: str
    bank: str
    bootstrap: str
    data_dir: Path | None = None
    kitchen: str | None = None  # the kitchen's HTTP API, for the audit's ticket count


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and durations of every phase; `quick()` and `full()` are the two presets."""

    quick: bool
    restaurants: int
    search_runs: int
    search_seconds: float
    search_concurrency: int
    latency_rates: tuple[int, ...]
    latency_seconds: float
    probe_seconds: float
    probe_start_rate: int
    probe_max_rate: int
    sustain_seconds: float
    sustain_steps: int
    drain_seconds: float
    kafka_messages: int
    search_mix_size: int = 20_000
    decline_every: int = 50
    results_dir: Path = Path("bench/results")
    target: Target | None = None
    keep_data: bool = False
    profile: bool = False  # py-spy the pipeline during the first sustained step
    baseline: str | None = None  # a git revision benchmarked first in the same run (baseline.py)
    # The overload step: `overload_factor` x the sustained rate, for at most `overload_seconds`
    # and `overload_max_orders` orders.
    overload_factor: float = 3.0
    overload_seconds: float = 30.0
    overload_max_orders: int = 60_000

    @classmethod
    def full(cls) -> BenchConfig:
        """The real measurement: 10,000 restaurants, 60 s sustained steps."""
        return cls(
            quick=False,
            restaurants=10_000,
            search_runs=5,
            search_seconds=10.0,
            search_concurrency=32,
            latency_rates=(50, 100, 200, 300),
            latency_seconds=15.0,
            probe_seconds=10.0,
            probe_start_rate=25,
            probe_max_rate=3200,
            sustain_seconds=60.0,
            sustain_steps=3,
            drain_seconds=15.0,
            kafka_messages=50_000,
        )

    @classmethod
    def quick_preset(cls) -> BenchConfig:
        """A small run that checks the harness end to end in well under 3 minutes."""
        return cls(
            quick=True,
            restaurants=2_000,
            search_runs=2,
            search_seconds=3.0,
            search_concurrency=16,
            latency_rates=(20, 50),
            latency_seconds=4.0,
            probe_seconds=3.0,
            probe_start_rate=50,
            probe_max_rate=100,
            sustain_seconds=5.0,
            sustain_steps=1,
            drain_seconds=10.0,
            kafka_messages=5_000,
            search_mix_size=2_000,
            decline_every=10,
            overload_seconds=10.0,
            overload_max_orders=3_000,
        )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def target_from_env(env: Mapping[str, str]) -> Target | None:
    """A running system named by BENCH_TARGET_API (+ _MAILBOX, _BANK, _BOOTSTRAP, _DATA_DIR)."""
    api = env.get("BENCH_TARGET_API")
    if not api:
        return None
    missing = [
        name
        for name in ("BENCH_TARGET_MAILBOX", "BENCH_TARGET_BANK", "BENCH_TARGET_BOOTSTRAP")
        if not env.get(name)
    ]
    if missing:
        raise ValueError(f"BENCH_TARGET_API is set, so {', '.join(missing)} must be set too")
    data_dir = env.get("BENCH_TARGET_DATA_DIR")
    return Target(
        api=api.rstrip("/"),
        mailbox=env["BENCH_TARGET_MAILBOX"].rstrip("/"),
        bank=env["BENCH_TARGET_BANK"].rstrip("/"),
        bootstrap=env["BENCH_TARGET_BOOTSTRAP"],
        data_dir=Path(data_dir) if data_dir else None,
        kitchen=(env.get("BENCH_TARGET_KITCHEN") or "").rstrip("/") or None,
    )


def config_from_env(env: Mapping[str, str] | None = None) -> BenchConfig:
    """The preset BENCH_QUICK picks, adjusted by BENCH_RESULTS_DIR, BENCH_RESTAURANTS, ..."""
    env = os.environ if env is None else env
    base = BenchConfig.quick_preset() if _truthy(env.get("BENCH_QUICK")) else BenchConfig.full()
    restaurants = env.get("BENCH_RESTAURANTS")
    if restaurants is not None and not restaurants.isdigit():
        raise ValueError(f"BENCH_RESTAURANTS: expected a whole number, got {restaurants!r}")
    return BenchConfig(
        **{
            **base.__dict__,
            "restaurants": int(restaurants) if restaurants else base.restaurants,
            "results_dir": Path(env.get("BENCH_RESULTS_DIR") or base.results_dir),
            "target": target_from_env(env),
            "keep_data": _truthy(env.get("BENCH_KEEP_DATA")),
            "profile": _truthy(env.get("BENCH_PROFILE")),
            "baseline": (env.get("BENCH_BASELINE") or "").strip() or None,
        }
    )
