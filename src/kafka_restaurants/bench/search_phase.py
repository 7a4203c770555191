"""The bench's search phase: closed-loop runs of the api's /search at fixed concurrency, then
of the bare FastAPI reference the same way, each summarized by its runs' medians.

The load itself (the query mix, the closed loop) is `search_load`; this module is the phase
that `runner.Run` times: how many runs, the CPU and memory read around each, the summary.
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random
from typing import Any

from kafka_restaurants.bench.config import BenchConfig
from kafka_restaurants.bench.progress import PhaseProgress
from kafka_restaurants.bench.rawhttp import ConnectionPool
from kafka_restaurants.bench.references import bare_fastapi
from kafka_restaurants.bench.resources import CpuWindow, cpu_delta, cpu_seconds, rss_mb
from kafka_restaurants.bench.search_load import (
    QUERY_KINDS,
    SearchQuery,
    build_query_mix,
    load_vocabulary,
    new_client,
    run_closed_loop,
)
from kafka_restaurants.bench.stats import latency_summary, median


class SearchPhase:
    """Search and its bare FastAPI reference against the system whose processes `pids` names;
    each run's memory reading is added to `memory_readings` (the run's peak under load)."""

    def __init__(
        self,
        config: BenchConfig,
        progress: PhaseProgress,
        pids: Callable[[], dict[str, int]],
        memory_readings: list[dict[str, float]],
    ) -> None:
        self.config = config
        self.progress = progress
        self.pids = pids
        self.memory_readings = memory_readings

    def _system_cpu(self) -> float:
        return cpu_seconds(self.pids())["total"]

    async def _closed_runs(
        self, base_url: str, path: str, queries: list[SearchQuery], label: str
    ) -> list[dict[str, Any]]:
        runs = []
        concurrency = self.config.search_concurrency
        pool = ConnectionPool(base_url, concurrency)
        try:
            await run_closed_loop(pool, path, queries, concurrency, 1.0)  # warm up
            for i in range(self.config.search_runs):
                self.progress.step(
                    f"{label} run {i + 1}/{self.config.search_runs}", self.config.search_seconds
                )
                before, window = cpu_seconds(self.pids()), CpuWindow(self._system_cpu)
                # Each run starts elsewhere in the mix, so no run replays the previous one's
                # queries (the api may cache answers; popular queries repeat within a run).
                run = await run_closed_loop(
                    pool,
                    path,
                    queries,
                    concurrency,
                    self.config.search_seconds,
                    first=i * len(queries) // self.config.search_runs,
                )
                self.memory_readings.append(rss_mb(self.pids()))
                runs.append(
                    {
                        "rps": round(run.rps, 1),
                        "requests": len(run.latencies_ms),
                        "errors": run.errors,
                        "seconds": round(run.seconds, 3),
                        "latency_ms": latency_summary(run.latencies_ms),
                        "by_kind_latency_ms": {
                            kind: latency_summary(values) for kind, values in run.by_kind_ms.items()
                        },
                        "cpu_seconds_by_process": cpu_delta(before, cpu_seconds(self.pids())),
                        **window.read(),
                    }
                )
        finally:
            await pool.close()
        return runs

    async def measure(self, api: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Search runs at fixed concurrency, then the bare endpoint the same way."""
        async with new_client(api, 4) as client:
            vocabulary = await load_vocabulary(client, Random(5))
        queries = build_query_mix(vocabulary, count=self.config.search_mix_size)
        search_runs = await self._closed_runs(api, "/search", queries, "search")
        with bare_fastapi() as url:
            ping = [SearchQuery("ping", {})]
            fastapi_runs = await self._closed_runs(url, "/ping", ping, "bare FastAPI")

        def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                "rps": median(r["rps"] for r in runs),
                "latency_ms": {
                    key: median(r["latency_ms"][key] for r in runs) for key in ("p50", "p95", "p99")
                },
                "errors": sum(r["errors"] for r in runs),
                "concurrency": self.config.search_concurrency,
                "box_cpu_busy_pct": median(r["box_cpu_busy_pct"] for r in runs),
                "other_cores": median(r["other_cores"] for r in runs),
                # Cores the load generator itself used: it shares the box with the system.
                "generator_cores": median(
                    round(r["generator_cpu_seconds"] / r["seconds"], 2) for r in runs
                ),
                "runs": runs,
            }

        search = summarize(search_runs)
        search["query_mix"] = {
            kind: sum(1 for q in queries if q.kind == kind) for kind, _ in QUERY_KINDS
        }
        search["distinct_queries"] = len({tuple(sorted(q.params.items())) for q in queries})
        search["mix_size"] = len(queries)
        search["example_queries"] = [q.params for q in queries[:8]]
        return search, summarize(fastapi_runs)
