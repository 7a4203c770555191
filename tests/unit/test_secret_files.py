"""Secrets shared through DATA_DIR: made once, owner-only, the same for racing processes."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

from kafka_restaurants.secret_files import create_once, shared_secret


def _secret_of(path: str) -> str:
    return shared_secret(Path(path))


def test_racing_processes_all_read_the_one_secret_that_won(tmp_path: Path) -> None:
    path = tmp_path / "data" / "web_secret"
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        seen = set(pool.map(_secret_of, [str(path)] * 12))
    assert seen == {path.read_text()} and len(path.read_text()) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["web_secret"]  # no temp files left


def test_an_existing_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_once(path, "first")
    create_once(path, "second")
    assert path.read_text() == "first"
    assert shared_secret(path) == "first"
