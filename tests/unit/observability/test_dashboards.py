"""The dashboard and scrape configs name metrics, services and ports that really exist."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[3]
OBSERVABILITY = ROOT / "deploy" / "observability"
# Every module that defines metrics, so the registry knows them all.
METRIC_MODULES = (
    "kafka_restaurants.api.outbox",
    "kafka_restaurants.api.order_status",
    "kafka_restaurants.api.routes.orders",
    "kafka_restaurants.messaging.consumer",
    "kafka_restaurants.observability.http",
    "kafka_restaurants.messaging.telemetry",
    "kafka_restaurants.transactions.app",
    "kafka_restaurants.transactions.bank_client",
    "kafka_restaurants.mailer.confirmations",
)
PROMQL_WORDS = {"sum", "by", "rate", "increase", "histogram_quantile", "max", "le"}


def _dashboard() -> dict[str, Any]:
    return json.loads((OBSERVABILITY / "grafana" / "kafka-restaurants.json").read_text())


def _exposed_names() -> set[str]:
    for module in METRIC_MODULES:
        importlib.import_module(module)
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
        names.update(family.name + s for s in suffixes.get(family.type, []))
    return names


def test_every_metric_the_dashboard_queries_exists() -> None:
    exposed = _exposed_names()
    exprs = [t["expr"] for p in _dashboard()["panels"] for t in p["targets"]]
    assert exprs
    for expr in exprs:
        without_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
        for word in re.findall(r"[a-z_][a-z0-9_]*", without_labels):
            if word in PROMQL_WORDS or not word.endswith(
                ("_total", "_seconds", "_bucket", "_lag", "_backlog")
            ):
                continue
            assert word in exposed, f"dashboard queries unknown metric {word!r}: {expr}"


def test_dashboard_shows_orders_latency_lag_errors_and_dead_letters() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "kafka-restaurants"
    text = json.dumps(dashboard["panels"])
    for needed in (
        "orders_placed_total",
        "order_settle_latency_seconds_bucket",
        "kafka_consumer_lag",
        'status=~\\"5..\\"',
        "kafka_dead_letters_total",
    ):
        assert needed in text, needed
    # any Grafana can load it: the data source is a variable, not one install's uid
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {"${datasource}"}
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_compose_profile_scrapes_every_process_on_its_port() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["observability"], name
        for volume in services[name]["volumes"]:
            source = volume.split(":", 1)[0]
            assert (ROOT / "deploy" / source).is_file(), source
    scrape = yaml.safe_load((OBSERVABILITY / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
        for job in scrape["scrape_configs"]
    }
    assert set(targets) == {"api", "bank", "transactions", "mailer", "web"}
    for job, hosts in targets.items():
        for target in hosts:
            host, port = target.split(":")
            assert host in services, f"{job}: no compose service {host}"
            port_variable = services[host]["environment"]["HEALTHCHECK_PORT"]
            assert port == port_variable, f"{job}: {host} listens on {port_variable}, not {port}"
    local = yaml.safe_load((OBSERVABILITY / "prometheus-local.yml").read_text())
    assert {job["job_name"] for job in local["scrape_configs"]} >= set(targets)
