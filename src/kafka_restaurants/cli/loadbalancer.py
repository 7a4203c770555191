"""Run nginx in front of the web replicas with a config generated from the settings."""

from __future__ import annotations

import os

from kafka_restaurants.cli.processes import nginx_binary, web_replica_ports
from kafka_restaurants.settings import Settings


def serve_load_balancer(settings: Settings) -> None:
    """Write the nginx config for the replicas and exec nginx in the foreground."""
    from kafka_restaurants.web.loadbalancer import nginx_command, render_nginx_config

    run_dir = (settings.data_dir / "run" / "nginx").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    upstreams = [f"{settings.host}:{port}" for port in web_replica_ports(settings)]
    conf = run_dir / "nginx.conf"
    conf.write_text(render_nginx_config(settings.web_port, upstreams, run_dir))
    command = nginx_command(conf)
    if nginx_binary():
        command[0] = nginx_binary() or command[0]
    os.execv(command[0], command)
