"""Resident memory and CPU time of the system's processes, each with all its descendants."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import psutil

MB = 1024 * 1024


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _unique_trees(pids: Mapping[str, int]) -> dict[str, list[psutil.Process]]:
    """Each named process with its descendants; the supervisor keeps only itself."""
    trees: dict[str, list[psutil.Process]] = {}
    for name, pid in pids.items():
        if name == "supervisor":  # its descendants are the other named processes
            try:
                trees[name] = [psutil.Process(pid)]
            except psutil.Error:
                trees[name] = []
        else:
            trees[name] = _tree(pid)
    return trees


def _per_tree(
    pids: Mapping[str, int], measure: Callable[[psutil.Process], float]
) -> dict[str, float]:
    """`measure` summed over each named process and its descendants, by name. A process is
    counted once (under the first name whose tree holds it); one that ended or cannot be read
    counts nothing."""
    per_name: dict[str, float] = {}
    counted: set[int] = set()
    for name, processes in _unique_trees(pids).items():
        total = 0.0
        for process in processes:
            if process.pid in counted:
                continue
            try:
                total += measure(process)
                counted.add(process.pid)
            except psutil.Error:
                continue
        per_name[name] = total
    return per_name


def _cpu_time(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def rss_mb(pids: Mapping[str, int]) -> dict[str, float]:
    """Resident memory in MiB per named process (with its children), plus `total`."""
    per_name = {
        name: round(rss / MB, 1)
        for name, rss in _per_tree(pids, lambda p: p.memory_info().rss).items()
    }
    per_name["total"] = round(sum(per_name.values()), 1)
    return per_name


def cpu_seconds(pids: Mapping[str, int]) -> dict[str, float]:
    """User + system CPU seconds per named process (with its children), plus `total`."""
    per_name = _per_tree(pids, _cpu_time)
    per_name["total"] = sum(per_name.values())
    return per_name


def cpu_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """CPU seconds spent between two `cpu_seconds` readings (a restarted process counts from 0)."""
    delta = {
        name: round(max(0.0, after[name] - before.get(name, 0.0)), 3)
        for name in after
        if name != "total"
    }
    delta["total"] = round(sum(delta.values()), 3)
    return delta


def peak(readings: list[dict[str, float]]) -> dict[str, float]:
    """Per-name maximum over several `rss_mb` readings; `total` is the highest total seen."""
    result: dict[str, float] = {}
    for reading in readings:
        for name, value in reading.items():
            result[name] = max(result.get(name, 0.0), value)
    return result


@dataclass(frozen=True)
class MachineInfo:
    cpus: int
    cpu_model: str
    memory_mb: float
    load_average: tuple[float, float, float]


def machine_info() -> MachineInfo:
    """What this machine is and how busy it was when the run began."""
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), ""
            )
    except OSError:
        pass
    load = psutil.getloadavg()
    return MachineInfo(
        cpus=psutil.cpu_count() or 0,
        cpu_model=model,
        memory_mb=round(psutil.virtual_memory().total / MB, 1),
        load_average=(round(load[0], 2), round(load[1], 2), round(load[2], 2)),
    )


class CpuWindow:
    """How busy the box was between start and `read()`, and who was busy: the system under test
    (`system_cpu`, total CPU seconds of its processes), the load generator (this process), or
    something else. Everything shares one machine, so each of these explains a number."""

    def __init__(self, system_cpu: Callable[[], float] | None = None) -> None:
        self._system_cpu = system_cpu
        self._me = psutil.Process()
        self._began = time.monotonic()
        self._box = psutil.cpu_times()
        self._mine = self._me.cpu_times()
        self._system = system_cpu() if system_cpu else 0.0

    def read(self) -> dict[str, float]:
        elapsed = max(1e-6, time.monotonic() - self._began)
        box, mine = psutil.cpu_times(), self._me.cpu_times()
        total = sum(box) - sum(self._box)
        idle = (box.idle + getattr(box, "iowait", 0.0)) - (
            self._box.idle + getattr(self._box, "iowait", 0.0)
        )
        busy_share = 1 - idle / total if total > 0 else 0.0
        busy_cores = busy_share * (psutil.cpu_count() or 1)
        generator = (mine.user + mine.system) - (self._mine.user + self._mine.system)
        reading = {
            "box_cpu_busy_pct": round(100 * busy_share, 1),
            "generator_cpu_seconds": round(generator, 3),
        }
        if self._system_cpu is not None:
            system = self._system_cpu() - self._system
            reading["system_cores"] = round(system / elapsed, 2)
            reading["generator_cores"] = round(generator / elapsed, 2)
            # Busy cores neither the system nor the generator account for: other work on the box.
            reading["other_cores"] = round(max(0.0, busy_cores - (system + generator) / elapsed), 2)
        return reading
