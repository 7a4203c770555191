"""The locks in requirements/ agree with pyproject.toml (offline: no resolver, no index).

`make lock` writes them with uv; this catches a pyproject.toml edited without `make lock`: a
requirement missing from a lock, a pin outside its specifier, a dependency removed from pyproject
but still locked as one, a file without hashes, or locks that disagree on a version.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
# What uv writes after a package that pyproject.toml asks for by name.
PROJECT_SOURCE = "kafka-restaurants (pyproject.toml)"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


@dataclass
class Pin:
    version: str
    hashes: int = 0
    via: set[str] = field(default_factory=set)


def parse_lock(text: str) -> dict[str, Pin]:
    """name -> its pin, the number of its hashes and what uv says it is there for ("# via")."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        match = _PIN.match(raw)
        if match:
            current = pins[canonicalize_name(match.group(1))] = Pin(match.group(2))
            in_via = False
            current.hashes += raw.count("--hash=")
        elif current is not None and line.startswith("--hash="):
            current.hashes += 1
        elif current is not None and line.startswith("# via"):
            rest = line.removeprefix("# via").strip()
            if rest:
                current.via.add(rest)
            in_via = not rest
        elif current is not None and in_via and line.startswith("#   "):
            current.via.add(line.removeprefix("#").strip())
        elif line and not line.startswith("#"):
            raise ValueError(f"a lock line that is neither a pin nor a hash: {raw!r}")
    return pins


def problems(
    requirements: list[str], pins: dict[str, Pin], *, direct_marker: str | None
) -> list[str]:
    """What is wrong with a lock for these top-level requirements (empty when it is current).

    direct_marker: the "# via" source uv writes for a top-level requirement; every pin that
    carries it must be one of the requirements (None: the lock's input has no name to check).
    """
    found: list[str] = []
    wanted = {}
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate(
            {"python_version": "3.11", "sys_platform": "linux", "platform_machine": "x86_64"}
        ):
            continue
        wanted[canonicalize_name(requirement.name)] = requirement
    for name, requirement in sorted(wanted.items()):
        pin = pins.get(name)
        if pin is None:
            found.append(f"{requirement} is not in the lock")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            found.append(f"{name}=={pin.version} is outside {requirement}")
        elif direct_marker and direct_marker not in pin.via:
            found.append(f"{name}=={pin.version} is locked only for other packages")
    for name, pin in sorted(pins.items()):
        if pin.hashes == 0:
            found.append(f"{name}=={pin.version} has no hash")
        if direct_marker and direct_marker in pin.via and name not in wanted:
            found.append(f"{name}=={pin.version} is locked for a requirement now gone")
    return found


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _lock(name: str) -> dict[str, Pin]:
    return parse_lock((LOCKS / name).read_text())


def _runtime(project: dict) -> list[str]:
    return list(project["project"]["dependencies"])


def _dev(project: dict) -> list[str]:
    extras = project["project"]["optional-dependencies"]
    return _runtime(project) + extras["dev"] + extras["bench"]


STALE = "the lock is stale: run `make lock` and commit it with pyproject.toml"


def test_runtime_lock_matches_the_dependencies() -> None:
    found = problems(_runtime(_pyproject()), _lock("runtime.txt"), direct_marker=PROJECT_SOURCE)
    assert not found, STALE + "\n" + "\n".join(found)


def test_dev_lock_matches_the_dependencies_with_the_dev_and_bench_extras() -> None:
    found = problems(_dev(_pyproject()), _lock("dev.txt"), direct_marker=PROJECT_SOURCE)
    assert not found, STALE + "\n" + "\n".join(found)


def test_build_lock_matches_the_build_system() -> None:
    requires = _pyproject()["build-system"]["requires"]
    found = problems(requires, _lock("build.txt"), direct_marker=None)
    assert not found, STALE + "\n" + "\n".join(found)


def test_the_locks_agree_on_every_shared_version() -> None:
    # One .venv holds the dev and build locks; the image holds the runtime lock, which must be
    # what the tests ran with.
    dev = _lock("dev.txt")
    for other in ("runtime.txt", "build.txt"):
        for name, pin in _lock(other).items():
            if name in dev:
                assert pin.version == dev[name].version, f"{other}: {name}"
    assert set(_lock("runtime.txt")) <= set(dev), "runtime.txt holds packages dev.txt lacks"


def test_the_locks_are_made_by_make_lock_for_linux_x86_64_python_3_11() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for flag in ("--generate-hashes", "--python-version 3.11", "x86_64-unknown-linux-gnu"):
        assert flag in makefile, flag
    for name in ("runtime.txt", "dev.txt", "build.txt"):
        assert "#    make lock\n" in (LOCKS / name).read_text(), name


# The check itself, on made-up locks: each kind of drift is caught.

_LOCK = """\
# This file was autogenerated by uv via the following command:
#    make lock
anyio==4.6.0 \\
    --hash=sha256:aa
    # via httpx
httpx==0.28.1 \\
    --hash=sha256:bb \\
    --hash=sha256:cc
    # via kafka-restaurants (pyproject.toml)
left-pad==1.0 \\
    --hash=sha256:dd
    # via
    #   kafka-restaurants (pyproject.toml)
    #   other
"""


def test_parse_lock_reads_pins_hashes_and_sources() -> None:
    pins = parse_lock(_LOCK)
    assert pins["httpx"] == Pin("0.28.1", 2, {PROJECT_SOURCE})
    assert pins["left-pad"].via == {PROJECT_SOURCE, "other"}
    assert pins["anyio"].via == {"httpx"}


@pytest.mark.parametrize(
    ("requirements", "lock", "expected"),
    [
        (["httpx>=0.27,<1", "left-pad"], _LOCK, []),
        (["httpx>=0.27,<1", "left-pad", "rich>=13"], _LOCK, ["rich>=13 is not in the lock"]),
        (
            ["httpx>=0.27,<1", "left-pad", "anyio"],
            _LOCK,
            ["anyio==4.6.0 is locked only for other packages"],
        ),
        (["httpx>=0.29,<1", "left-pad"], _LOCK, ["httpx==0.28.1 is outside httpx<1,>=0.29"]),
        (
            ["httpx>=0.27,<1"],
            _LOCK,
            ["left-pad==1.0 is locked for a requirement now gone"],
        ),
        (
            ["httpx>=0.27,<1", "left-pad"],
            _LOCK.replace("    --hash=sha256:aa\n", "").replace("4.6.0 \\", "4.6.0"),
            ["anyio==4.6.0 has no hash"],
        ),
        # A requirement for another platform needs no pin.
        (["httpx>=0.27,<1", "left-pad", "pywin32; sys_platform == 'win32'"], _LOCK, []),
    ],
)
def test_problems_finds_each_kind_of_drift(
    requirements: list[str], lock: str, expected: list[str]
) -> None:
    assert problems(requirements, parse_lock(lock), direct_marker=PROJECT_SOURCE) == expected
