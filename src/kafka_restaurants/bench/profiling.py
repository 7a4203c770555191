"""Optional py-spy profiles of the pipeline during a sustained step (BENCH_PROFILE=1).

Samples are taken only from threads holding the GIL, so shares are of the Python CPU time a
process spends, not of wall time that includes waiting on sockets and locks.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

PROFILED = ("api", "transactions", "mailer", "bank", "mailbox")


def py_spy() -> str | None:
    """The py-spy executable beside our Python, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


async def record_profiles(
    pids: Mapping[str, int], seconds: float, out_dir: Path
) -> dict[str, list[dict[str, object]]]:
    """Sample each process for `seconds`, write collapsed stacks, return the top frames."""
    binary = py_spy()
    if binary is None:
        return {}
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = {}
    for name in PROFILED:
        if name not in pids:
            continue
        path = out_dir / f"profile-{name}.txt"
        jobs[name] = (
            path,
            await asyncio.create_subprocess_exec(
                binary,
                "record",
                "--pid",
                str(pids[name]),
                "--duration",
                str(int(seconds)),
                "--rate",
                "50",
                "--format",
                "raw",
                "--nonblocking",
                # Only threads holding the GIL: CPU spent in Python, not threads waiting.
                "--gil",
                "--subprocesses",
                "--output",
                str(path),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            ),
        )
    top: dict[str, list[dict[str, object]]] = {}
    for name, (path, process) in jobs.items():
        await process.wait()
        if path.exists():
            collapsed = path.read_text()
            top[name] = top_functions(collapsed)
            top[f"{name} (deepest own frame)"] = top_own_frames(collapsed)
    return top


def _stacks(collapsed: str) -> Iterator[tuple[list[str], int]]:
    """(frames root first, sample count) for each line of py-spy's raw (collapsed) output."""
    for line in collapsed.splitlines():
        stack, _, number = line.rpartition(" ")
        if stack and number.isdigit():
            yield stack.split(";"), int(number)


def top_functions(collapsed: str, count: int = 12) -> list[dict[str, object]]:
    """The frames most often on top of the stack (self time) and most often anywhere (total)."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    samples = 0
    for frames, hits in _stacks(collapsed):
        samples += hits
        own[frames[-1]] += hits
        for frame in set(frames):
            anywhere[frame] += hits
    if not samples:
        return []
    return [
        {
            "frame": frame,
            "self_pct": round(100 * hits / samples, 1),
            "total_pct": round(100 * anywhere[frame] / samples, 1),
        }
        for frame, hits in own.most_common(count)
    ]


def top_own_frames(
    collapsed: str, count: int = 6, package: str = "kafka_restaurants/"
) -> list[dict[str, object]]:
    """Where in our own code the samples fall: each sample counts for the deepest of our frames
    on its stack, so a function's share includes the library calls it makes (SQL, JSON, HTTP)
    but not time merely passing through entry points and loops above it."""
    deepest: Counter[str] = Counter()
    samples = 0
    for frames, hits in _stacks(collapsed):
        samples += hits
        own = [frame for frame in frames if package in frame]
        if own:
            deepest[own[-1]] += hits
    if not samples:
        return []
    return [
        {
            "frame": frame,
            "self_pct": round(100 * hits / samples, 1),
            "total_pct": round(100 * hits / samples, 1),
        }
        for frame, hits in deepest.most_common(count)
    ]
