"""The generated nginx config for the web replicas."""

from pathlib import Path

import pytest

from kafka_restaurants.cli.loadbalancer import nginx_command, render_nginx_config


def test_config_lists_upstreams_and_keeps_files_under_run_dir(tmp_path: Path) -> None:
    conf = render_nginx_config(8088, ["127.0.0.1:8101", "127.0.0.1:8102"], tmp_path)
    assert "listen 127.0.0.1:8088;" in conf
    assert "server 127.0.0.1:8101 max_fails=1 fail_timeout=2s;" in conf
    assert "server 127.0.0.1:8102 max_fails=1 fail_timeout=2s;" in conf
    assert f'pid "{tmp_path.resolve()}/nginx.pid";' in conf
    for directive in ("client_body_temp_path", "proxy_temp_path", "access_log"):
        assert f'{directive} "{tmp_path.resolve()}/' in conf
    assert "proxy_next_upstream error timeout http_502 http_503" in conf
    assert "proxy_connect_timeout 1s;" in conf
    assert "daemon" not in conf  # passed with -g, so the official image's CMD also works


def test_container_rendering_listens_on_every_interface(tmp_path: Path) -> None:
    conf = render_nginx_config(80, ["web:8000"], tmp_path, listen_host=None)
    assert "listen 80;" in conf
    assert "server web:8000 " in conf


@pytest.mark.parametrize("bad", ["nohost", "host:port", "host:99999", "a b:80", "x;y:80", ":80"])
def test_bad_upstreams_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="upstream"):
        render_nginx_config(8088, [bad], tmp_path)


def test_no_upstreams_or_bad_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_nginx_config(8088, [], tmp_path)
    with pytest.raises(ValueError):
        render_nginx_config(8088, ["a:1"], tmp_path / "x;y")
    with pytest.raises(ValueError):
        render_nginx_config(0, ["a:1"], tmp_path)


def test_nginx_command_runs_in_the_foreground(tmp_path: Path) -> None:
    argv = nginx_command(tmp_path / "nginx.conf")
    assert argv[0].endswith("nginx")
    assert argv[argv.index("-c") + 1] == str((tmp_path / "nginx.conf").resolve())
    assert argv[argv.index("-p") + 1] == str(tmp_path.resolve())
    assert argv[argv.index("-g") + 1] == "daemon off;"
