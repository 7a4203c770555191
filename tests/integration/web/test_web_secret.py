"""The cookie-signing secret: shared by every replica through the data dir when not configured."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kafka_restaurants.settings import Settings
from kafka_restaurants.web.security import SECRET_FILE_NAME, resolve_web_secret


def test_replicas_on_one_data_dir_agree_and_keep_the_secret(tmp_path: Path) -> None:
    settings = Settings.model_validate({"DATA_DIR": str(tmp_path / "data")})
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: resolve_web_secret(settings), range(16)))
    assert len(secrets) == 1
    secret = secrets.pop()
    assert len(secret) >= 32
    assert (tmp_path / "data" / SECRET_FILE_NAME).read_text().strip() == secret
    assert resolve_web_secret(settings) == secret  # a restart keeps carts valid
    assert oct((tmp_path / "data" / SECRET_FILE_NAME).stat().st_mode & 0o777) == "0o600"
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.startswith(".")]


def test_configured_secret_wins(tmp_path: Path) -> None:
    settings = Settings.model_validate({"DATA_DIR": str(tmp_path), "CART_SECRET": "from-env"})
    assert resolve_web_secret(settings) == "from-env"
    assert not (tmp_path / SECRET_FILE_NAME).exists()
