"""The project's image, built by deploy/images.sh and run with docker or podman like Kubernetes."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.components import require

REPO = Path(__file__).resolve().parents[2]
IMAGES_SCRIPT = REPO / "deploy" / "images.sh"
# deploy/images.sh exits 3 when there is no engine and it could not install one.
NO_ENGINE = 3
# A cold build makes the Debian base (about 1.5 min on two cores) and the wheels (about 1 min).
BUILD_TIMEOUT = 1500
# Every container of a test run is named NAME_PREFIX<pytest pid>-<role>, so a later run can tell
# leftovers of a dead run from the containers of a run that is still going.
NAME_PREFIX = "kr-ctest-"
# What deploy/k8s/base asks of every container: uid and gid 10001, a read-only root filesystem
# with an emptyDir at /tmp, no capabilities, no privilege escalation.
HARDENING = [
    "--user=10001:10001",
    "--read-only",
    "--tmpfs=/tmp:rw,size=64m,mode=1777",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
]
# Host networking, so that the containers reach the test's broker and database on 127.0.0.1.
# Explicit ulimits because some hosts refuse the engine's defaults, and no health timers
# (podman runs them through systemd): the tests run the image's HEALTHCHECK command themselves.
HOST_OPTIONS = [
    "--network=host",
    "--ulimit=nofile=20000:20000",
    "--ulimit=nproc=32768:32768",
    "--no-healthcheck",
]


def image_name() -> str:
    """The tag deploy/images.sh builds: kafka-restaurants:<version in pyproject.toml>."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return f"kafka-restaurants:{project['version']}"


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Engine:
    """A container engine's command line (e.g. ["podman", "--runtime", "runc"]) and our image."""

    command: list[str]
    image: str

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args], capture_output=True, text=True, timeout=timeout
        )

    def run_once(
        self, name: str, env: dict[str, str], *args: str, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """Run the image to completion (a Job, like `migrate`); the container is removed."""
        return self(
            "run", "--rm", f"--name={name}", *HARDENING, *HOST_OPTIONS, *_env(env), self.image,
            *args, timeout=timeout,
        )  # fmt: skip

    def start(self, name: str, env: dict[str, str], *args: str) -> None:
        """Start a long-running container from the image in the background."""
        started = self(
            "run", "--detach", f"--name={name}", *HARDENING, *HOST_OPTIONS, *_env(env),
            self.image, *args,
        )  # fmt: skip
        assert started.returncode == 0, f"could not start {name}:\n{started.stderr}"

    def exec(
        self, name: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in a running container, as its own user."""
        return self("exec", *_env(env or {}), name, *args, timeout=60)

    def running(self, name: str) -> bool:
        """True while the container exists and its process has not exited."""
        state = self("inspect", "--format", "{{.State.Running}}", name, timeout=30)
        return state.returncode == 0 and state.stdout.strip() == "true"

    def logs(self, name: str, lines: int = 40) -> str:
        """The end of a container's output (stdout and stderr)."""
        out = self("logs", "--tail", str(lines), name, timeout=30)
        return out.stdout + out.stderr

    def remove(self, names: list[str]) -> None:
        """Stop containers gracefully (SIGTERM, then 10 s), then remove them."""
        if names:
            self("stop", "--time", "10", *names, timeout=120)
            self("rm", "--force", *names, timeout=120)

    def remove_stale(self) -> None:
        """Remove containers that earlier test runs left behind (their pytest is gone)."""
        listed = self("ps", "--all", "--format", "{{.Names}}", timeout=60)
        stale = []
        for name in listed.stdout.split():
            if not name.startswith(NAME_PREFIX):
                continue
            owner = name.removeprefix(NAME_PREFIX).split("-", 1)[0]
            if not (owner.isdigit() and _alive(int(owner))):
                stale.append(name)
        if stale:
            self("rm", "--force", *stale, timeout=120)

    def healthcheck_command(self) -> list[str]:
        """The command of the image's HEALTHCHECK (Docker format: ["CMD", ...])."""
        found = self("image", "inspect", self.image, timeout=30)
        assert found.returncode == 0, found.stderr
        [image] = json.loads(found.stdout)
        # podman reports it at the top level, docker inside Config.
        check = image.get("Healthcheck") or image["Config"].get("Healthcheck")
        assert check and check["Test"][0] == "CMD", f"no exec-form HEALTHCHECK: {check}"
        return list(check["Test"][1:])

    def configured_user(self) -> str:
        """The USER the image runs as when nothing overrides it."""
        found = self("image", "inspect", "--format", "{{.Config.User}}", self.image, timeout=30)
        return found.stdout.strip()


def _env(env: dict[str, str]) -> list[str]:
    return [f"--env={key}={value}" for key, value in env.items()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def build_image() -> Engine:
    """Build the image with deploy/images.sh (as `make images` does); the engine it used."""
    built = subprocess.run(
        [str(IMAGES_SCRIPT)], cwd=REPO, capture_output=True, text=True, timeout=BUILD_TIMEOUT
    )
    if built.returncode == NO_ENGINE:
        require(False, f"a container engine (docker or podman): {_tail(built.stderr, 5)}")
    assert built.returncode == 0, f"deploy/images.sh failed:\n{_tail(built.stdout + built.stderr)}"
    engine = subprocess.run(
        [str(IMAGES_SCRIPT), "engine"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert engine.returncode == 0, engine.stderr
    return Engine(command=engine.stdout.split(), image=image_name())
