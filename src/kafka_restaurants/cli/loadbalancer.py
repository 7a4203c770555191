"""The nginx load balancer in front of the web replicas, in one place: where nginx is, its
config (rendered from `nginx.conf.j2` beside this module, which compose's
`deploy/nginx/compose.conf` is rendered from too), and `serve`, which `restaurants serve lb`
runs: write the config for this machine's replicas, then exec nginx in the foreground.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from kafka_restaurants.settings import Settings

TEMPLATE_PATH = Path(__file__).resolve().parent / "nginx.conf.j2"


def nginx_binary() -> str | None:
    """nginx on PATH or where Debian puts it, or None."""
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


def web_replica_ports(settings: Settings) -> list[int]:
    """The ports web replicas listen on behind the load balancer (or the LB port itself)."""
    if nginx_binary() is None:
        return [settings.web_port]
    return [settings.web_replica_base_port + i for i in range(settings.web_replicas)]


def serve(settings: Settings) -> None:
    """Write the nginx config for the replicas and exec nginx in the foreground."""
    run_dir = (settings.data_dir / "run" / "nginx").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    upstreams = [f"{settings.host}:{port}" for port in web_replica_ports(settings)]
    conf = run_dir / "nginx.conf"
    conf.write_text(render_nginx_config(settings.web_port, upstreams, run_dir))
    command = nginx_command(conf)
    os.execv(command[0], command)


def render_nginx_config(
    listen_port: int,
    upstreams: Sequence[str],
    run_dir: Path | str,
    *,
    listen_host: str | None = "127.0.0.1",
) -> str:
    """nginx.conf balancing `upstreams` ("host:port") on `listen_host:listen_port`.

    `listen_host=None` listens on every interface (what a container needs).
    """
    if not upstreams:
        raise ValueError("the load balancer needs at least one upstream")
    for upstream in upstreams:
        _check_upstream(upstream)
    if not 0 < listen_port < 65536:
        raise ValueError(f"listen_port must be 1..65535, got {listen_port}")
    if not TEMPLATE_PATH.is_file():
        raise FileNotFoundError(f"nginx template not found at {TEMPLATE_PATH}")
    run_path = Path(run_dir).resolve()
    _check_path(run_path)
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_PATH.parent),
        undefined=StrictUndefined,
        autoescape=False,  # nginx config, not HTML; inputs are validated above
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    listen = f"{listen_host}:{listen_port}" if listen_host else str(listen_port)
    return env.get_template(TEMPLATE_PATH.name).render(
        listen=listen, upstreams=list(upstreams), run_dir=str(run_path)
    )


def nginx_command(conf_path: Path | str) -> list[str]:
    """argv running nginx in the foreground with `conf_path`, its prefix being the config's dir."""
    conf = Path(conf_path).resolve()
    binary = nginx_binary() or "nginx"
    return [binary, "-c", str(conf), "-p", str(conf.parent), "-e", "stderr", "-g", "daemon off;"]


def _check_upstream(upstream: str) -> None:
    host, sep, port = upstream.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"upstream must be host:port, got {upstream!r}")
    if any(ch.isspace() or ch in ";{}#'\"" for ch in upstream):
        raise ValueError(f"upstream contains characters nginx would misread: {upstream!r}")


def _check_path(path: Path) -> None:
    # Paths are quoted in the config; these would still end the string or expand a variable.
    if any(ch in "\"'\\$;{}\n" for ch in str(path)):
        raise ValueError(f"run_dir contains characters nginx would misread: {path}")
