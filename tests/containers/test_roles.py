"""Each role runs from the image as the manifests ask, and the image's health check tells."""

from __future__ import annotations

import pytest

from tests.containers.conftest import Deployment
from tests.fixtures.components import free_port

# The first test to run pays for the image build (minutes when cold) and the start-up.
pytestmark = pytest.mark.timeout(1800)

# Run inside each container: who it runs as, what it may do, and where it may write.
PROBE = """
import os
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
try:
    open("/probe", "w")
    root = "writable"
except OSError as exc:
    root = "read-only" if exc.errno == 30 else repr(exc)
with open("/tmp/probe", "w") as tmp:
    tmp.write("ok")
print(os.getuid(), os.getgid(), status["CapEff"].strip(), status["NoNewPrivs"].strip(), root)
"""


def test_every_role_runs_as_10001_without_privileges_on_a_read_only_root(
    deployment: Deployment,
) -> None:
    assert deployment.engine.configured_user() == "10001:10001"
    for role in deployment.health_ports:
        probed = deployment.engine.exec(deployment.name(role), "python3", "-c", PROBE)
        assert probed.returncode == 0, f"{role}: {probed.stderr}"
        assert probed.stdout.split() == ["10001", "10001", "0000000000000000", "1", "read-only"], (
            f"{role}: uid gid CapEff NoNewPrivs root = {probed.stdout}"
        )


def test_the_image_healthcheck_passes_for_every_role_and_fails_without_a_listener(
    deployment: Deployment,
) -> None:
    check = deployment.engine.healthcheck_command()
    for role in deployment.health_ports:
        name = deployment.name(role)
        healthy = deployment.engine.exec(name, *check)
        assert healthy.returncode == 0, f"{role}: {healthy.stdout}{healthy.stderr}"
        nothing_there = {"HEALTHCHECK_PORT": str(free_port())}
        unhealthy = deployment.engine.exec(name, *check, env=nothing_there)
        assert unhealthy.returncode != 0, f"{role}: the check passed with nothing listening"
        assert "unreachable" in unhealthy.stdout, unhealthy.stdout
