#!/usr/bin/env python3
"""Container health check: exit 0 when the process's /healthz answers 200, else 1.

Usage: healthcheck [URL]. Without a URL it asks
http://127.0.0.1:$HEALTHCHECK_PORT$HEALTHCHECK_PATH (defaults 5000 and /healthz).
Standard library only, so it works in any image built from this repository's Dockerfile.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def health_url(argv: list[str], env: dict[str, str]) -> str:
    """The URL to check: the first argument, else one built from the environment."""
    if len(argv) > 1:
        return argv[1]
    port = env.get("HEALTHCHECK_PORT", "5000")
    path = env.get("HEALTHCHECK_PATH", "/healthz")
    return f"http://127.0.0.1:{port}{path}"


def main() -> int:
    """Check once; print why on failure so `docker inspect` shows it."""
    url = health_url(sys.argv, dict(os.environ))
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            if response.status == 200:
                return 0
            print(f"{url} answered {response.status}")
    except (urllib.error.URLError, OSError) as exc:
        print(f"{url} unreachable: {exc}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
