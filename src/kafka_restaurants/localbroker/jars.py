"""Java and the Apache Kafka broker jars: prerequisite checks and the Maven-resolved jar cache."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kafka_restaurants.settings import Settings

MIN_JAVA = 17
# kafka/pom.xml at the top of the source tree (the package is installed editable from there).
POM_PATH = Path(__file__).resolve().parents[3] / "kafka" / "pom.xml"
_MARKER = ".resolved"


class MissingPrerequisite(RuntimeError):
    """A tool the broker needs (Java, Maven, the pom) is not installed; the message says which."""


def java_executable() -> str | None:
    """The java binary: $JAVA_HOME/bin/java when set, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def parse_java_major(version_output: str) -> int | None:
    """The major version in `java -version` output ("1.8.0_292" -> 8, "17.0.15" -> 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _java_major(java: str) -> int | None:
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_java_major(done.stderr + done.stdout)


def kafka_lib_dir(version: str) -> Path:
    """Where the broker jars for `version` are cached, outside the work tree."""
    explicit = os.environ.get("KAFKA_LIB_DIR")
    if explicit:
        return Path(explicit).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "kafka-restaurants" / f"kafka_2.13-{version}" / "libs"


def _fingerprint(version: str) -> str:
    """Identifies what a resolved lib dir was made from, so a changed pom re-resolves."""
    pom = POM_PATH.read_bytes() if POM_PATH.is_file() else b""
    return f"{version} {hashlib.sha256(pom).hexdigest()}\n"


def _user_provided_jars(lib_dir: Path) -> bool:
    # KAFKA_LIB_DIR may point at a Kafka distribution's libs/: use it as it is, never rewrite it.
    return bool(os.environ.get("KAFKA_LIB_DIR")) and any(lib_dir.glob("kafka_2.13-*.jar"))


def jars_ready(version: str) -> bool:
    """True when the jars for `version` are already resolved (a cheap file check)."""
    lib_dir = kafka_lib_dir(version)
    if _user_provided_jars(lib_dir):
        return True
    marker = lib_dir / _MARKER
    return marker.is_file() and marker.read_text() == _fingerprint(version)


def check_prerequisites(version: str | None = None) -> None:
    """Raise MissingPrerequisite when Java 17+ is missing, or Maven is needed and missing."""
    version = version or Settings().kafka_version
    java = java_executable()
    if java is None:
        raise MissingPrerequisite(
            f"Java {MIN_JAVA} or newer is required to run Kafka: install openjdk-17-jre-headless "
            "(apt-get install openjdk-17-jre-headless)."
        )
    major = _java_major(java)
    if major is None or major < MIN_JAVA:
        found = f"Java {major}" if major else f"an unrecognised Java ({java})"
        raise MissingPrerequisite(
            f"Java {MIN_JAVA} or newer is required to run Kafka but {found} was found: install "
            "openjdk-17-jre-headless (apt-get install openjdk-17-jre-headless) or set JAVA_HOME."
        )
    if jars_ready(version):
        return
    if shutil.which("mvn") is None:
        raise MissingPrerequisite(
            "Maven is required once to download the Kafka jars: install maven "
            "(apt-get install maven), or set KAFKA_LIB_DIR to a Kafka distribution's libs folder."
        )
    if not POM_PATH.is_file():
        raise MissingPrerequisite(
            f"{POM_PATH} is missing, so the Kafka jars cannot be resolved: run from a source "
            "checkout of kafka-restaurants, or set KAFKA_LIB_DIR to a Kafka libs folder."
        )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock across processes, so parallel setups don't resolve jars twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_kafka_jars(version: str) -> Path:
    """Resolve the broker jars for `version` with Maven unless already cached; return the dir."""
    lib_dir = kafka_lib_dir(version)
    if jars_ready(version):
        return lib_dir
    check_prerequisites(version)
    with _locked(lib_dir.parent / f".{lib_dir.name}.lock"):
        if jars_ready(version):  # another process finished while we waited for the lock
            return lib_dir
        staging = Path(tempfile.mkdtemp(prefix=f".{lib_dir.name}-", dir=lib_dir.parent))
        try:
            command = [
                "mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(POM_PATH),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                f"-Dkafka.version={version}",
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
                raise RuntimeError(
                    f"Maven could not resolve Kafka {version} (exit {done.returncode}):\n{tail}"
                )
            # The marker goes in last: a copy interrupted before this point is redone next time.
            (staging / _MARKER).write_text(_fingerprint(version))
            if lib_dir.exists():
                shutil.rmtree(lib_dir)
            staging.chmod(0o755)  # mkdtemp made it private; the jars are not secret
            staging.rename(lib_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return lib_dir
