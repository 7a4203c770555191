"""HTTPS between the services: the certificate a server presents, the CA its clients trust."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from kafka_restaurants.settings import Settings


def server_tls(settings: Settings) -> dict[str, str]:
    """uvicorn's `ssl_certfile`/`ssl_keyfile` when TLS_CERT_FILE and TLS_KEY_FILE are set."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return {}
    return {"ssl_certfile": str(settings.tls_cert_file), "ssl_keyfile": str(settings.tls_key_file)}


def client_ssl_context(ca_file: Path | None) -> ssl.SSLContext | None:
    """A context that checks servers (chain and host name) against `ca_file`; None: defaults."""
    if ca_file is None:
        return None
    return ssl.create_default_context(cafile=str(ca_file))


def https_verify(ca_file: Path | None) -> ssl.SSLContext | Literal[True]:
    """httpx's `verify=`: servers checked against `ca_file` (TLS_CA_FILE), else the defaults."""
    return client_ssl_context(ca_file) or True
