"""Two real web replicas behind a real nginx: requests spread, and a killed replica loses none."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from kafka_restaurants.cli.loadbalancer import nginx_command, render_nginx_config
from tests.fixtures.components import free_port, require, wait_for

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

# /cart with an empty cart is a whole page that needs no api: the test is about the balancer.
PAGE = "/cart"


@dataclass
class Cluster:
    url: str
    replicas: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)


def start_replica(name: str, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "CART_SECRET": "lb-test",
        "API_URL": f"http://127.0.0.1:{free_port()}",  # nothing there; /cart never calls it
        "LOG_LEVEL": "warning",
    }
    code = (
        "import sys; from kafka_restaurants.settings import Settings; "
        "from kafka_restaurants.web.app import serve; "
        "serve(Settings(), int(sys.argv[1]), replica_name=sys.argv[2])"
    )
    return subprocess.Popen([sys.executable, "-c", code, str(port), name], env=env)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    require(NGINX is not None, "nginx (apt-get install -y nginx)")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ports = {"web-a": free_port(), "web-b": free_port()}
        replicas = {name: start_replica(name, port, tmp_path) for name, port in ports.items()}
        processes.extend(replicas.values())
        for name, port in ports.items():
            wait_for(
                lambda port=port: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200,
                what=name,
            )
        run_dir = tmp_path / "nginx"
        run_dir.mkdir()
        lb_port = free_port()
        conf = run_dir / "nginx.conf"
        upstreams = [f"127.0.0.1:{port}" for port in ports.values()]
        conf.write_text(render_nginx_config(lb_port, upstreams, run_dir))
        nginx = subprocess.Popen(nginx_command(conf))
        processes.append(nginx)
        url = f"http://127.0.0.1:{lb_port}"
        wait_for(lambda: httpx.get(f"{url}/healthz").status_code == 200, what="nginx")
        yield Cluster(url, replicas)
    finally:
        for process in reversed(processes):
            stop(process, signal.SIGQUIT if process is processes[-1] else signal.SIGTERM)


def test_requests_spread_across_both_replicas(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.url) as client:
        served_by = [client.get(PAGE).headers["X-Served-By"] for _ in range(20)]
    assert set(served_by) == {"web-a", "web-b"}
    assert min(served_by.count("web-a"), served_by.count("web-b")) >= 5  # round robin


def test_killing_a_replica_loses_no_request(cluster: Cluster) -> None:
    results: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    enough_before = threading.Event()
    done = threading.Event()

    def load() -> None:
        try:
            with httpx.Client(base_url=cluster.url, timeout=10) as client:
                while not done.is_set() or len(results) < 200:
                    response = client.get(PAGE)
                    results.append((response.status_code, response.headers.get("X-Served-By", "")))
                    if len(results) >= 40:
                        enough_before.set()
        except BaseException as exc:  # surfaced by the main thread's assertion
            errors.append(exc)
            enough_before.set()

    worker = threading.Thread(target=load)
    worker.start()
    assert enough_before.wait(timeout=30), "load never got going"
    killed_at = len(results)
    cluster.replicas["web-a"].send_signal(signal.SIGKILL)
    cluster.replicas["web-a"].wait(timeout=10)
    done.set()
    worker.join(timeout=60)

    assert not errors, errors
    assert not worker.is_alive()
    statuses = {status for status, _ in results}
    assert statuses == {200}, f"lost requests: {[r for r in results if r[0] != 200]}"
    assert {name for _, name in results[:killed_at]} == {"web-a", "web-b"}
    # After the kill every page still loads, from the surviving replica.
    after = results[killed_at + 5 :]
    assert after and {name for _, name in after} == {"web-b"}


def test_placing_orders_too_fast_gets_429_from_the_balancer_and_pages_are_never_limited(
    cluster: Cluster,
) -> None:
    with httpx.Client(base_url=cluster.url, timeout=10) as client:
        # Without a CSRF token every POST that gets through is refused by a replica (403):
        # what matters is who answers.
        answers = [client.post("/checkout", data={"name": "x"}) for _ in range(15)]
        codes = [answer.status_code for answer in answers]
        assert codes[:10] == [403] * 10, codes  # the burst reaches the replicas
        assert 429 in codes[10:], codes
        limited = next(answer for answer in answers if answer.status_code == 429)
        assert "X-Served-By" not in limited.headers  # nginx answered, no replica was asked
        assert limited.headers["Retry-After"] == "5"
        assert "Your card was not charged; try again in a few seconds." in limited.text
        assert limited.headers["HX-Retarget"] == "#checkout-notice"
        # Looking is never limited, even for the same address at the same moment.
        assert {client.get(PAGE).status_code for _ in range(20)} == {200}
        assert client.get("/checkout").status_code in (303, 200)
