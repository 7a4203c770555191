"""Secrets that processes of one machine share through DATA_DIR, made by whoever comes first.

Several processes may start at once (web replicas, kitchen instances, `restaurants up`): each
writes its candidate aside and hard-links it into place. link() fails for all but the first,
so every process then reads the same complete file, and nobody ever reads half of one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def create_once(path: Path, content: str) -> None:
    """Create `path`, readable by its owner only, holding `content`, unless it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def shared_secret(path: Path) -> str:
    """The random secret in `path`, made on first use (the same for every process)."""
    existing = _read(path)
    if existing:
        return existing
    create_once(path, secrets.token_urlsafe(32))
    secret = _read(path)
    if not secret:
        raise RuntimeError(f"could not read the secret in {path}: delete it to start over")
    return secret


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
