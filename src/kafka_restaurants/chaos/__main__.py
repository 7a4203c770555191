"""`python -m kafka_restaurants.chaos` (`restaurants chaos`, `make chaos`): run and audit.

Environment: CHAOS_QUICK=1 (15/s, each fault once, under 5 minutes), CHAOS_RATE, CHAOS_SECONDS,
CHAOS_RESULTS_DIR (default bench/results), CHAOS_KEEP_DATA=1 (keep the system's data dir),
CHAOS_POSTGRES=0 (run on SQLite files: no database outage; the default runs a PostgreSQL server
of the run's own when its programs are installed).
"""

from __future__ import annotations

import asyncio
import sys

from kafka_restaurants.bench.postgres import postgres_bin
from kafka_restaurants.bench.system import StartFailed
from kafka_restaurants.chaos.report import summary_markdown, write_results, write_timeline
from kafka_restaurants.chaos.runner import run_chaos
from kafka_restaurants.chaos.schedule import config_from_env


def main() -> int:
    """Run the chaos suite; exit 1 when the audit found a problem, 2 on a bad setting."""
    try:
        installed = all(postgres_bin(name) for name in ("initdb", "postgres"))
        config = config_from_env(postgres_installed=installed)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        results = asyncio.run(run_chaos(config, say))
    except StartFailed as exc:
        print(f"The system did not start: {exc}", file=sys.stderr)
        return 1
    results["plots"] = write_timeline(results, config.results_dir)
    written = write_results(results, config.results_dir)
    print(summary_markdown(results))
    print("Wrote " + ", ".join(str(p) for p in written))
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
