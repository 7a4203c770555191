"""deploy/compose.yaml: parses, starts in order, limits memory, uses known images and files."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from kafka_restaurants.cli.main import app as restaurants_cli
from kafka_restaurants.cli.processes import SERVE_TARGETS
from kafka_restaurants.settings import Settings
from tests.deploy.tools import DEPLOY, INSTALL_HINT, ROOT, tool
from tests.fixtures.components import require

# Images compose may pull: Docker official images and the projects' own official images.
OFFICIAL_IMAGES = {
    "postgres",
    "apache/kafka",
    "nginx",
    "axllent/mailpit",
    "prom/prometheus",
    "grafana/grafana",
}
APP_IMAGE = "kafka-restaurants"
SETTINGS_NAMES = {field.alias for field in Settings.model_fields.values() if field.alias}
IMAGE_NAMES = {"HEALTHCHECK_PORT", "HEALTHCHECK_PATH"}
CALLER_KEYS = {"BANK_CALLER_KEY_API", "BANK_CALLER_KEY_TRANSACTIONS", "BANK_CALLER_KEY_OPERATOR"}
# Each of api, bank, mailer and kitchen logs in to PostgreSQL as its own role:
# (variable, role, password).
DATABASE_LOGINS = {
    "api": ("DATABASE_URL", "api", "API_DB_PASSWORD"),
    "bank": ("BANK_DATABASE_URL", "bank", "BANK_DB_PASSWORD"),
    "mailer": ("MAILER_DATABASE_URL", "mailer", "MAILER_DB_PASSWORD"),
    "kitchen": ("KITCHEN_DATABASE_URL", "kitchen", "KITCHEN_DB_PASSWORD"),
}
DB_PASSWORDS = {password for _, _, password in DATABASE_LOGINS.values()}
SECRET_NAMES = {
    "POSTGRES_PASSWORD",
    "CART_SECRET",
    "KITCHEN_SECRET",
    "GRAFANA_ADMIN_PASSWORD",
    *CALLER_KEYS,
    *DB_PASSWORDS,
}
DATABASE_URL_RE = re.compile(
    r"postgresql\+psycopg://(?P<role>\w+):\$\{(?P<password>\w+):\?[^}]*\}@postgres:5432/(?P<db>\w+)"
)
# Each caller presents its own key to the bank as BANK_API_KEY.
OWN_BANK_KEY = {"api": "BANK_CALLER_KEY_API", "transactions": "BANK_CALLER_KEY_TRANSACTIONS"}
BANK_KEY_NAMES = {"BANK_API_KEY", *CALLER_KEYS}


def _with_defaults(value: str) -> str:
    """`${TAG:-0.1.0}` -> `0.1.0`: what compose substitutes when the variable is unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _one_shots(compose: dict[str, Any]) -> set[str]:
    """Services others wait on to finish (migrations, topics): they need no health check."""
    return {
        dependency
        for service in _services(compose).values()
        for dependency, condition in (service.get("depends_on") or {}).items()
        if condition["condition"] == "service_completed_successfully"
    }


def test_every_service_has_a_health_check_and_a_memory_limit(compose: dict[str, Any]) -> None:
    one_shots = _one_shots(compose)
    for name, service in _services(compose).items():
        limit = service["deploy"]["resources"]["limits"]["memory"]
        assert re.fullmatch(r"\d+[MG]", limit), f"{name}: memory limit {limit!r}"
        if name in one_shots:
            assert service["restart"] == "no", f"{name} runs once"
            continue
        test = service["healthcheck"]["test"]
        assert test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1, name


def test_start_order_waits_on_health_and_only_names_real_services(
    compose: dict[str, Any],
) -> None:
    services = _services(compose)
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition["condition"] in {"service_healthy", "service_completed_successfully"}
    expected = {
        "migrate": {"postgres"},
        "create-topics": {"kafka"},
        "api": {"migrate", "create-topics", "bank"},
        "transactions": {"create-topics", "bank"},
        "mailer": {"migrate", "create-topics", "mailpit"},
        "web-1": {"api"},
        "web-2": {"api"},
        "lb": {"web-1", "web-2"},
    }
    for name, dependencies in expected.items():
        assert set(services[name]["depends_on"]) == dependencies, name


def test_images_are_ours_or_official_and_pinned(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        image = _with_defaults(service["image"])
        repository, _, tag = image.rpartition(":")
        assert tag and tag != "latest", f"{name}: {image} is not pinned"
        if repository == APP_IMAGE:
            assert service["build"]["context"] == ".."
            assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        else:
            assert repository in OFFICIAL_IMAGES, f"{name}: {image} is not an official image"
    kafka = _services(compose)["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "broker,controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"], "KRaft mode"
    mailpit = _services(compose)["mailpit"]
    assert {"127.0.0.1:1025:1025", "127.0.0.1:8025:8025"} <= set(mailpit["ports"])
    assert "8088:8088" in _services(compose)["lb"]["ports"]


def test_mounted_files_exist_in_the_repository(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).is_file(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name}: unknown named volume {source}"
    assert "postgres-data" in compose["volumes"]


def test_app_services_get_only_variables_the_code_reads(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        if not service["image"].startswith(f"{APP_IMAGE}:"):
            continue
        environment = service["environment"]
        unknown = set(environment) - SETTINGS_NAMES - IMAGE_NAMES
        assert not unknown, f"{name}: variables no code reads: {unknown}"
        assert environment["HOST"] == "0.0.0.0"
        assert service["read_only"] is True and "/tmp" in service["tmpfs"]
        assert environment["DATA_DIR"].startswith("/tmp/")
        assert service["cap_drop"] == ["ALL"]
    web = _services(compose)["web-1"]["environment"]
    assert web["API_URL"] == "http://api:5000" and "CART_SECRET" in web


def test_secrets_are_interpolated_from_the_ignored_env_file_never_literal() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    for secret in SECRET_NAMES:
        for value in re.findall(rf"^\s*{secret}:\s*(\S+)", text, re.MULTILINE):
            assert value.startswith(f"${{{secret}:?"), f"{secret} must come from deploy/.env"
    for password in DB_PASSWORDS:
        assert f"${{{password}:?" in text, password


def test_each_service_gets_only_its_own_bank_key(compose: dict[str, Any]) -> None:
    services = _services(compose)
    bank = services["bank"]["environment"]
    assert {name for name in bank if name in BANK_KEY_NAMES} == CALLER_KEYS
    for name in CALLER_KEYS:
        assert bank[name].startswith(f"${{{name}:?"), name
    for name, service in services.items():
        if name == "bank":
            continue
        keys = {key: value for key, value in (service.get("environment") or {}).items()}
        held = {key for key in keys if key in BANK_KEY_NAMES}
        if name in OWN_BANK_KEY:
            assert held == {"BANK_API_KEY"}, name
            assert keys["BANK_API_KEY"].startswith(f"${{{OWN_BANK_KEY[name]}:?"), name
        else:
            assert held == set(), f"{name} holds bank keys it does not use: {held}"


def _database_logins(service: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """Variable -> (role, password variable, database) of every database URL a service gets."""
    logins = {}
    for name, value in (service.get("environment") or {}).items():
        if name.endswith("DATABASE_URL"):
            found = DATABASE_URL_RE.fullmatch(value)
            assert found, f"{name}={value} is not a role's URL with an interpolated password"
            logins[name] = (found["role"], found["password"], found["db"])
    return logins


def test_each_service_logs_in_to_its_own_database_with_its_own_credential(
    compose: dict[str, Any],
) -> None:
    services = _services(compose)
    for name, (variable, role, password) in DATABASE_LOGINS.items():
        assert _database_logins(services[name]) == {variable: (role, password, role)}, name
    # The migration runs each service's migrations as that service (all three, nothing else).
    assert _database_logins(services["migrate"]) == {
        variable: (role, password, role) for variable, role, password in DATABASE_LOGINS.values()
    }
    credentials: dict[str, str] = {}
    for name, service in services.items():
        if name in {"migrate", "postgres"}:
            continue
        for role, password, _ in _database_logins(service).values():
            assert credentials.setdefault(password, name) == name, (
                f"{name} shares {password} with {credentials[password]}"
            )
            assert role == name, f"{name} logs in as {role}"
        if name not in DATABASE_LOGINS:
            assert not _database_logins(service), f"{name} holds a database credential"
    # Only PostgreSQL itself knows the superuser's password; it makes the roles at first start.
    text = (DEPLOY / "compose.yaml").read_text()
    assert text.count("${POSTGRES_PASSWORD:?") == 1
    postgres = services["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    for password in DB_PASSWORDS:
        assert postgres["environment"][password].startswith(f"${{{password}:?"), password
    init = "./k8s/overlays/minikube/postgres-init/10-service-roles.sh"
    assert f"{init}:/docker-entrypoint-initdb.d/10-service-roles.sh:ro" in postgres["volumes"]


def test_no_default_passwords(compose: dict[str, Any]) -> None:
    grafana = _services(compose)["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    text = (DEPLOY / "compose.yaml").read_text()
    # No secret falls back to a value written here (`${NAME:-value}`).
    for line in text.splitlines():
        if re.search(r"PASSWORD|SECRET|KEY", line) and not line.lstrip().startswith("#"):
            assert ":-" not in line, line
    for path in (DEPLOY / "observability").rglob("*"):
        if path.is_file():
            content = path.read_text()
            assert not re.search(r"(?i)password\W+(default\W+)?`?admin`?\b", content), path
            assert not re.search(r"(?i)admin_password\s*[:=]", content), path
            assert not re.search(r"(?i)default\W+admin\b", content), path


def test_make_secrets_adds_what_an_older_env_file_lacks(tmp_path: Path) -> None:
    script = DEPLOY / "make-secrets.sh"
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=kept\nCART_SECRET=kept-too\n")
    (tmp_path / ".env").chmod(0o600)
    for _ in range(2):  # the second run adds nothing
        subprocess.run(["bash", str(script), str(tmp_path)], check=True, capture_output=True)
    values = dict(
        line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if "=" in line
    )
    assert (values["POSTGRES_PASSWORD"], values["CART_SECRET"]) == ("kept", "kept-too")
    assert set(values) == SECRET_NAMES
    fresh = [
        values[name]
        for name in (*CALLER_KEYS, "GRAFANA_ADMIN_PASSWORD", "KITCHEN_SECRET", *DB_PASSWORDS)
    ]
    assert len(set(fresh)) == 9 and all(re.fullmatch(r"[0-9a-f]{36,64}", v) for v in fresh)
    overlay = tmp_path / "k8s" / "overlays" / "minikube"
    for caller in ("api", "transactions", "operator"):
        key_file = overlay / "secrets" / f"bank-caller-{caller}.env"
        assert re.fullmatch(r"key=[0-9a-f]{64}\n", key_file.read_text())
        assert key_file.stat().st_mode & 0o077 == 0, key_file


def test_load_balancer_runs_the_committed_render_of_the_shared_template(
    compose: dict[str, Any],
) -> None:
    spec = importlib.util.spec_from_file_location(
        "render_compose_nginx", DEPLOY / "render_compose_nginx.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (DEPLOY / "nginx" / "compose.conf").read_text()
    assert committed == module.compose_nginx_config(), (
        "deploy/nginx/compose.conf is stale: run .venv/bin/python deploy/render_compose_nginx.py"
    )
    lb = _services(compose)["lb"]
    assert "./nginx/compose.conf:/etc/nginx/nginx.conf:ro" in lb["volumes"]
    # Its upstreams are the web services of compose, on the port they listen on.
    services = _services(compose)
    for upstream in module.UPSTREAMS:
        host, port = upstream.split(":")
        assert host in services, upstream
        assert ["--port", port] == services[host]["command"][2:4], upstream
    assert f"listen {module.LISTEN_PORT};" in committed
    assert (ROOT / "src" / "kafka_restaurants" / "cli" / "nginx.conf.j2").is_file()


def test_compose_validates_the_file_with_the_secrets_make_secrets_writes(
    compose: dict[str, Any], deploy_copy: Path
) -> None:
    # Docker Compose itself (no engine needed for `config`): it validates against the spec.
    docker_compose = tool("docker-compose")
    require(docker_compose is not None, f"docker-compose ({INSTALL_HINT})")
    assert docker_compose is not None
    result = subprocess.run(
        [docker_compose, "--env-file", str(deploy_copy / ".env"),
         "-f", str(DEPLOY / "compose.yaml"), "--profile", "observability", "config"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"compose config refused the file:\n{result.stderr}"
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == set(_services(compose))
    api = resolved["services"]["api"]["environment"]
    assert "${" not in api["DATABASE_URL"] and "@postgres:5432/" in api["DATABASE_URL"]
    # The keys make-secrets.sh wrote: the api's own reaches the bank as the api's caller key.
    bank = resolved["services"]["bank"]["environment"]
    transactions = resolved["services"]["transactions"]["environment"]
    assert api["BANK_API_KEY"] == bank["BANK_CALLER_KEY_API"]
    assert transactions["BANK_API_KEY"] == bank["BANK_CALLER_KEY_TRANSACTIONS"]
    assert len({bank[name] for name in CALLER_KEYS}) == 3
    grafana = resolved["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] not in {"", "admin"}
    # Five different database passwords: the superuser's and one per service role.
    postgres = resolved["services"]["postgres"]["environment"]
    logins = {postgres["POSTGRES_PASSWORD"], *(postgres[name] for name in DB_PASSWORDS)}
    assert len(logins) == 5 and "" not in logins
    for service, (variable, role, password) in DATABASE_LOGINS.items():
        url = resolved["services"][service]["environment"][variable]
        assert url == f"postgresql+psycopg://{role}:{postgres[password]}@postgres:5432/{role}"


def test_every_app_service_runs_a_command_the_image_knows(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["restaurants"]' in dockerfile
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["restaurants"] == "kafka_restaurants.cli.main:app"
    runner = CliRunner()
    checked = 0
    for name, service in _services(compose).items():
        if not service["image"].startswith(f"{APP_IMAGE}:"):
            continue
        command = service["command"]
        result = runner.invoke(restaurants_cli, [*command, "--help"])
        assert result.exit_code == 0, f"{name}: `restaurants {' '.join(command)}`: {result.output}"
        if command[0] == "serve":  # the process is an argument --help does not check
            assert command[1] in SERVE_TARGETS, f"{name}: no process {command[1]!r} to serve"
        checked += 1
    assert checked >= 8
    unknown = runner.invoke(restaurants_cli, ["serve-all", "--help"])
    assert unknown.exit_code != 0, "the check must be able to fail"
