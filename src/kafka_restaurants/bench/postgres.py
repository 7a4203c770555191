"""A PostgreSQL server of our own: for the test suite, and for the chaos run to take down.

initdb and postgres from Debian's packages (`apt-get install postgresql`), in a directory of
ours, on a free port on 127.0.0.1, trusting local connections: a throwaway server, never one
to keep data in.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

from kafka_restaurants.bench.system import free_port

# No fsync: safe against a crash of the server (the chaos run's database outage: every commit
# is written to the kernel before it is acknowledged), not against one of the machine, which a
# throwaway server need not survive.
_FAST = ("fsync=off", "full_page_writes=off", "max_connections=200")


def postgres_bin(name: str) -> str | None:
    """Path of a PostgreSQL server program (Debian keeps them out of PATH), or None."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres_user() -> Callable[[], None] | None:
    """PostgreSQL refuses to run as root: drop to the `postgres` account when we are root."""
    if os.geteuid() != 0:
        return None
    account = pwd.getpwnam("postgres")

    def demote() -> None:
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)

    return demote


class LocalPostgres:
    """initdb + postgres in a directory of ours; stop and start again keep the data."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or Path(tempfile.mkdtemp(prefix="kr-pg-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._demote = _as_postgres_user()

    @property
    def url(self) -> str:
        """The maintenance database, as the superuser `postgres`."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 60.0) -> str:
        """Start the server (creating the cluster the first time); its URL once it answers."""
        initdb, postgres = postgres_bin("initdb"), postgres_bin("postgres")
        if initdb is None or postgres is None:
            raise FileNotFoundError("PostgreSQL server programs (apt-get install postgresql)")
        data = self.dir / "data"
        if not data.exists():
            self._init_cluster(initdb, data)
        address = ["-p", str(self.port), "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1"]
        settings = [arg for option in _FAST for arg in ("-c", option)]
        with open(self.dir / "postgres.log", "ab") as log:
            self.process = subprocess.Popen(
                [postgres, "-D", str(data), *address, *settings],
                stdout=subprocess.DEVNULL,
                stderr=log,
                preexec_fn=self._demote,
            )
        self._wait_accepting(timeout)
        return self.url

    def crash(self) -> None:
        """Stop at once, as a crash would (immediate shutdown: recovery runs at next start)."""
        self._stop(signal.SIGQUIT)

    def stop(self) -> None:
        """Stop after disconnecting every client (fast shutdown)."""
        self._stop(signal.SIGINT)

    def remove(self) -> None:
        """Stop and delete the cluster's directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _init_cluster(self, initdb: str, data: Path) -> None:
        if self._demote is not None:
            account = pwd.getpwnam("postgres")
            os.chown(self.dir, account.pw_uid, account.pw_gid)
        subprocess.run(
            [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            preexec_fn=self._demote,
        )

    def _stop(self, signum: signal.Signals) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _wait_accepting(self, timeout: float) -> None:
        engine = create_engine(self.url)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if not self.running:
                    raise RuntimeError(f"postgres exited; see {self.dir / 'postgres.log'}")
                try:
                    with engine.connect() as conn:
                        conn.execute(text("select 1"))
                    return
                except Exception as exc:  # not accepting connections yet
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"PostgreSQL did not answer in {timeout:.0f}s") from exc
                time.sleep(0.1)
        finally:
            engine.dispose()
