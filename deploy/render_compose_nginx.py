"""Render deploy/nginx/compose.conf, the load balancer of compose, from the package's nginx template
(src/kafka_restaurants/cli/nginx.conf.j2).

The same template and renderer as `restaurants up` (kafka_restaurants.cli.loadbalancer), so
compose runs the configuration the test suite runs with real nginx. Run after editing the
template: `.venv/bin/python deploy/render_compose_nginx.py`; tests/deploy checks it is current.
"""

from __future__ import annotations

from pathlib import Path

from kafka_restaurants.cli.loadbalancer import render_nginx_config

COMPOSE_CONF = Path(__file__).resolve().parent / "nginx" / "compose.conf"
# The compose services of the web replicas, and where the nginx container may write (a tmpfs).
UPSTREAMS = ("web-1:8088", "web-2:8088")
LISTEN_PORT = 8088
RUN_DIR = "/tmp/nginx"


def compose_nginx_config() -> str:
    """The nginx.conf that the compose `lb` service mounts."""
    return render_nginx_config(LISTEN_PORT, UPSTREAMS, RUN_DIR, listen_host=None)


if __name__ == "__main__":
    COMPOSE_CONF.write_text(compose_nginx_config())
    print(f"wrote {COMPOSE_CONF}")
