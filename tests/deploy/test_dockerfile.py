"""The image: hadolint-clean, multi-stage, non-root, and holding every file the package needs."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.deploy.tools import DEPLOY, INSTALL_HINT, ROOT, tool
from tests.fixtures.components import require

DOCKERFILE = ROOT / "Dockerfile"


def _stages() -> dict[str, str]:
    """Stage name -> its instructions."""
    stages: dict[str, str] = {}
    name = ""
    for line in DOCKERFILE.read_text().splitlines():
        match = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if match:
            name = match.group(1) or f"stage{len(stages)}"
            stages[name] = ""
        elif name:
            stages[name] += line + "\n"
    return stages


def test_hadolint_passes() -> None:
    hadolint = tool("hadolint")
    require(hadolint is not None, f"hadolint ({INSTALL_HINT})")
    assert hadolint is not None
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_final_stages_are_slim_non_root_with_a_health_check_and_labels() -> None:
    stages = _stages()
    assert {"builder", "runtime"} <= set(stages)
    runtime = stages["runtime"]
    assert "USER 10001:10001" in runtime
    assert "HEALTHCHECK" in runtime
    assert "org.opencontainers.image.title" in runtime
    assert "org.opencontainers.image.version" in runtime
    # Build tools stay in the builder: the runtime installs wheels only, without an index.
    assert "apt-get" not in runtime and "gcc" not in runtime
    assert "--no-index" in runtime and "pip wheel" not in runtime
    # The prototype's roles are targets of the same image.
    roles = {
        "frontend": "web",
        "searchorder": "api",
        "transactions": "transactions",
        "pymail": "mailer",
        "bank": "bank",
    }
    for role, process in roles.items():
        assert f'CMD ["serve", "{process}"]' in stages[role], role
    assert list(stages)[-1] == "kafka-restaurants", "the default target is the generic image"


def test_image_version_is_the_package_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert f"ARG VERSION={version}" in DOCKERFILE.read_text()
    for overlay in ("base", "overlays/minikube", "overlays/production"):
        assert f"newTag: {version}" in (DEPLOY / "k8s" / overlay / "kustomization.yaml").read_text()
    assert f"${{TAG:-{version}}}" in (DEPLOY / "compose.yaml").read_text()


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[0 if not ignore[0].startswith("#") else 1] == "*", "deny by default"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied: set[str] = set()
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY") and "--from" not in line:
            copied.update(
                part.rstrip("/") for part in line.split()[1:-1] if not part.startswith("--")
            )
    assert copied <= allowed, f"COPY of files .dockerignore keeps out: {copied - allowed}"
    for path in allowed:
        assert (ROOT / path).exists(), path


def test_healthcheck_script_builds_the_url_from_the_environment() -> None:
    spec = importlib.util.spec_from_file_location(
        "healthcheck", DEPLOY / "docker" / "healthcheck.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.health_url(["healthcheck"], {}) == "http://127.0.0.1:5000/healthz"
    assert (
        module.health_url(["healthcheck"], {"HEALTHCHECK_PORT": "5201"})
        == "http://127.0.0.1:5201/healthz"
    )
    assert module.health_url(["healthcheck", "http://x:1/readyz"], {}) == "http://x:1/readyz"


def test_healthcheck_script_fails_when_nothing_answers() -> None:
    from tests.fixtures.components import free_port

    result = subprocess.run(
        [
            sys.executable,
            str(DEPLOY / "docker" / "healthcheck.py"),
            f"http://127.0.0.1:{free_port()}/healthz",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "unreachable" in result.stdout


@pytest.mark.timeout(600)
def test_the_wheel_the_image_installs_holds_every_package_file(tmp_path: Path) -> None:
    # The image installs the built wheel, not the source tree: templates, static files,
    # migrations and catalog data must all be inside it.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "dist").glob("kafka_restaurants-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "src"
    expected = {
        str(path.relative_to(package))
        for path in (package / "kafka_restaurants").rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in {".pyc", ".md"}  # notes for developers, not used at run time
    }
    missing = sorted(expected - inside)
    assert not missing, f"files the wheel (and so the image) lacks: {missing[:20]}"
