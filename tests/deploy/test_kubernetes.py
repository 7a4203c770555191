"""The kustomize overlays render, and what they render is safe, complete and fits the budget."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from kafka_restaurants.events.topics import ALL_TOPICS
from kafka_restaurants.messaging.admin import planned_topics
from kafka_restaurants.settings import Settings
from tests.deploy.conftest import OVERLAYS
from tests.deploy.manifests import (
    app_containers,
    containers,
    env_names,
    format_mi,
    memory_rows,
    minimum_pods,
    named,
    of_kind,
    pod_spec,
    process_of,
)
from tests.deploy.tools import DEPLOY, ROOT

Rendered = dict[str, list[dict[str, Any]]]
SETTINGS_NAMES = {field.alias for field in Settings.model_fields.values() if field.alias}
# Variables our image reads besides Settings: deploy/docker/healthcheck.py.
IMAGE_NAMES = {"HEALTHCHECK_PORT", "HEALTHCHECK_PATH"}
# What each process cannot do without in a container (the defaults suit only a laptop).
REQUIRED = {
    "api": {"HOST", "DATA_DIR", "DATABASE_URL", "BOOTSTRAP_SVR", "BANK_URL"},
    "bank": {"HOST", "DATA_DIR", "DATABASE_URL"},
    "transactions": {"HOST", "DATA_DIR", "BOOTSTRAP_SVR", "BANK_URL"},
    "mailer": {"HOST", "DATA_DIR", "BOOTSTRAP_SVR", "DATABASE_URL", "SMTP_HOST", "PUBLIC_URL"},
    "web": {"HOST", "DATA_DIR", "API_URL", "CART_SECRET"},
    "migrate": {"DATA_DIR", "DATABASE_URL"},
    "topics": {"BOOTSTRAP_SVR"},
}
MEMORY_BUDGET = 2 * 1024 * 1024 * 1024


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_every_process(rendered: Rendered, overlay: str) -> None:
    processes = {process_of(container) for _, container in app_containers(rendered[overlay])}
    assert processes == {"api", "bank", "transactions", "mailer", "web", "migrate"}
    for doc in rendered[overlay]:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "kafka-restaurants", doc["metadata"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_has_probes_resources_and_a_locked_down_security_context(
    rendered: Rendered, overlay: str
) -> None:
    for kind in ("Deployment", "StatefulSet", "Job"):
        for workload in of_kind(rendered[overlay], kind):
            name = f"{overlay}/{kind}/{workload['metadata']['name']}"
            spec = pod_spec(workload)
            assert spec["securityContext"]["runAsNonRoot"] is True, name
            assert spec.get("automountServiceAccountToken") is False, name
            for container in containers(workload):
                if kind != "Job":  # a Job runs to completion: nothing to probe
                    assert (
                        "httpGet" in container["readinessProbe"]
                        or "exec" in container["readinessProbe"]
                    ), name
                    assert container.get("livenessProbe"), f"{name}: no liveness probe"
                resources = container["resources"]
                for bound in ("requests", "limits"):
                    assert {"cpu", "memory"} <= set(resources[bound]), f"{name}: {bound}"
                security = container["securityContext"]
                assert security["allowPrivilegeEscalation"] is False, name
                assert security["readOnlyRootFilesystem"] is True, name
                assert security["capabilities"]["drop"] == ["ALL"], name
                assert security["runAsNonRoot"] is True and security["runAsUser"] > 0, name
                image = container["image"]
                assert ":" in image.rsplit("/", 1)[-1], f"{name}: {image} has no tag"
                assert not image.endswith(":latest"), f"{name}: {image} uses latest"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_hit_the_ports_the_processes_serve_their_health_on(
    rendered: Rendered, overlay: str
) -> None:
    health_ports = {"api": 5000, "bank": 5100, "web": 8088, "transactions": 5201, "mailer": 5301}
    for workload, container in app_containers(rendered[overlay]):
        process = process_of(container)
        if process not in health_ports:
            continue
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        for probe in ("livenessProbe", "readinessProbe"):
            get = container[probe]["httpGet"]
            assert ports[get["port"]] == health_ports[process], workload["metadata"]["name"]
            assert get["path"] in {"/healthz", "/readyz"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_has_a_disruption_budget_and_a_network_policy(
    rendered: Rendered, overlay: str
) -> None:
    docs = rendered[overlay]
    budgets = {
        pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for pdb in of_kind(docs, "PodDisruptionBudget")
    }
    for _, container in app_containers(docs):
        process = process_of(container)
        if process != "migrate":
            assert process in budgets, f"{overlay}: no PodDisruptionBudget for {process}"
    # Every pod of ours is selected by a policy beyond the default deny.
    policies = of_kind(docs, "NetworkPolicy")
    assert any(p["spec"]["podSelector"] == {} for p in policies), "no default deny"
    for kind in ("Deployment", "StatefulSet", "Job"):
        for workload in of_kind(docs, kind):
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert any(
                _selects(p["spec"]["podSelector"], labels)
                for p in policies
                if p["spec"]["podSelector"]
            ), f"{overlay}: no NetworkPolicy selects {workload['metadata']['name']}"


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        if (
            expression["operator"] == "In"
            and labels.get(expression["key"]) not in expression["values"]
        ):
            return False
    return True


def _allowed_sources(docs: list[dict[str, Any]], target: str) -> list[dict[str, Any]]:
    sources = []
    for policy in of_kind(docs, "NetworkPolicy"):
        if (
            _selects(policy["spec"]["podSelector"], {"app.kubernetes.io/name": target})
            and policy["spec"]["podSelector"]
        ):
            for rule in policy["spec"].get("ingress", []):
                sources.extend(rule.get("from", [{}]))
    return sources


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_web_reaches_api_and_only_our_processes_reach_kafka(
    rendered: Rendered, overlay: str
) -> None:
    docs = rendered[overlay]
    assert _allowed_sources(docs, "api") == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "web"}}}
    ]
    assert named(docs, "Service", "api")["spec"]["type"] == "ClusterIP"
    assert named(docs, "Service", "web")["spec"]["type"] == "LoadBalancer"
    assert named(docs, "Ingress", "web")["spec"]["rules"]
    listeners = named(docs, "Kafka", "kafka")["spec"]["kafka"]["listeners"]
    for listener in listeners:
        peers = listener["networkPolicyPeers"]
        assert {"podSelector": {"matchLabels": {"kafka-restaurants/kafka-client": "true"}}} in peers
    kafka_clients = {
        process_of(container)
        for workload, container in app_containers(docs)
        if workload["spec"]["template"]["metadata"]["labels"].get("kafka-restaurants/kafka-client")
    }
    assert kafka_clients == {"api", "transactions", "mailer"}


def test_minikube_database_takes_connections_only_from_our_processes(rendered: Rendered) -> None:
    docs = rendered["minikube"]
    assert named(docs, "StatefulSet", "postgres")["spec"]["volumeClaimTemplates"]
    assert _allowed_sources(docs, "postgres") == [
        {"podSelector": {"matchLabels": {"kafka-restaurants/database-client": "true"}}}
    ]
    database_users = {
        process_of(container)
        for workload, container in app_containers(docs)
        if "DATABASE_URL" in env_names(docs, container)
    }
    for workload, container in app_containers(docs):
        if process_of(container) in database_users:
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert labels.get("kafka-restaurants/database-client") == "true", process_of(container)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_in_the_code_has_a_kafka_topic_with_the_planned_partitions(
    rendered: Rendered, overlay: str
) -> None:
    docs = rendered[overlay]
    config = of_kind(docs, "ConfigMap")[0]["data"]
    planned = planned_topics(int(config["ORDER_PARTITIONS"]), int(config["TOPIC_PARTITIONS"]))
    topics = {
        topic["spec"].get("topicName", topic["metadata"]["name"]): topic
        for topic in of_kind(docs, "KafkaTopic")
    }
    assert set(topics) == set(ALL_TOPICS)
    pool_replicas = sum(pool["spec"]["replicas"] for pool in of_kind(docs, "KafkaNodePool"))
    for name, topic in topics.items():
        assert topic["spec"]["partitions"] == planned[name], name
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "kafka"
        assert int(topic["spec"]["config"]["retention.ms"]) > 0
        assert topic["spec"]["replicas"] <= pool_replicas


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_runs_in_kraft_mode_with_a_node_pool(rendered: Rendered, overlay: str) -> None:
    docs = rendered[overlay]
    kafka = named(docs, "Kafka", "kafka")
    # Strimzi 1.x serves only kafka.strimzi.io/v1, where KRaft and node pools are the only mode.
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1"
    assert "zookeeper" not in kafka["spec"]
    pool = named(docs, "KafkaNodePool", "dual-role")
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    config = kafka["spec"]["kafka"]["config"]
    assert config["auto.create.topics.enable"] is False
    assert config["default.replication.factor"] <= pool["spec"]["replicas"]
    assert (
        config["transaction.state.log.min.isr"]
        <= config["transaction.state.log.replication.factor"]
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscaling_web_api_by_cpu_and_consumers_by_lag_up_to_the_partitions(
    rendered: Rendered, overlay: str
) -> None:
    docs = rendered[overlay]
    hpas = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa
        for hpa in of_kind(docs, "HorizontalPodAutoscaler")
    }
    assert set(hpas) == {"web", "api"}
    assert all(hpa["apiVersion"] == "autoscaling/v2" for hpa in hpas.values())
    assert hpas["web"]["spec"]["minReplicas"] >= 2, "web runs at least two replicas"
    partitions = {
        topic["spec"]["topicName"]: topic["spec"]["partitions"]
        for topic in of_kind(docs, "KafkaTopic")
    }
    expected = {
        "transactions": ("transaction-service", "order"),
        "mailer": ("confirmation-service", "order_confirm"),
    }
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind(docs, "ScaledObject")}
    assert set(scaled) == set(expected)
    for name, (group, topic) in expected.items():
        trigger = scaled[name]["spec"]["triggers"][0]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == group
        assert trigger["metadata"]["topic"] == topic
        assert trigger["metadata"]["bootstrapServers"].startswith("kafka-kafka-bootstrap.")
        assert 1 <= scaled[name]["spec"]["maxReplicaCount"] <= partitions[topic]
        # The autoscaler owns the count; a replicas field would fight it on every apply.
        assert "replicas" not in named(docs, "Deployment", name)["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_is_known_to_the_code_and_every_needed_one_is_set(
    rendered: Rendered, overlay: str
) -> None:
    docs = rendered[overlay]
    for _, container in app_containers(docs):
        process = process_of(container)
        names = env_names(docs, container)
        unknown = set(names) - SETTINGS_NAMES - IMAGE_NAMES
        assert not unknown, f"{overlay}/{process}: variables no code reads: {unknown}"
        missing = REQUIRED[process] - set(names)
        assert not missing, f"{overlay}/{process}: not set: {missing}"
        if "HOST" in names:
            assert names["HOST"] == "0.0.0.0", "in a pod, listen on every interface"
        if "DATA_DIR" in names:
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert any(str(names["DATA_DIR"]).startswith(f"{m}/") for m in mounts), (
                "DATA_DIR must be on a writable volume: the root filesystem is read-only"
            )


def test_every_setting_is_defaulted_by_the_code() -> None:
    # So a variable that no manifest sets still has a value (required ones are checked above).
    for name, field in Settings.model_fields.items():
        assert not field.is_required(), f"setting {name} has no default"


def test_secrets_are_generated_from_ignored_files_never_committed(
    rendered: Rendered, deploy_copy: Any
) -> None:
    import yaml

    for path in sorted((DEPLOY / "k8s").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            assert doc.get("kind") != "Secret", f"{path}: a committed Secret"
            for generator in doc.get("secretGenerator", []):
                assert "literals" not in generator, f"{path}: literal secret values"
                for source in [*generator.get("envs", []), *generator.get("files", [])]:
                    source_path = path.parent / source
                    ignored = subprocess.run(
                        ["git", "-C", str(ROOT), "check-ignore", "-q", str(source_path)],
                        check=False,
                    )
                    assert ignored.returncode == 0, f"{source_path} is not git-ignored"
                    tracked = subprocess.run(
                        ["git", "-C", str(ROOT), "ls-files", "--error-unmatch", str(source_path)],
                        capture_output=True,
                        check=False,
                    )
                    assert tracked.returncode != 0, f"{source_path} is committed"
    # Minikube: the one Secret holds exactly what make-secrets.sh generated.
    import base64

    secrets = of_kind(rendered["minikube"], "Secret")
    assert len(secrets) == 1
    generated = dict(
        line.split("=", 1)
        for line in (deploy_copy / "k8s/overlays/minikube/secrets.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    decoded = {k: base64.b64decode(v).decode() for k, v in secrets[0]["data"].items()}
    assert decoded == generated
    assert len(generated["CART_SECRET"]) >= 64
    # Production: no Secret at all; the External Secrets Operator makes it from a store.
    assert not of_kind(rendered["production"], "Secret")
    external = named(rendered["production"], "ExternalSecret", "kafka-restaurants-secrets")
    assert external["spec"]["target"]["name"] == "kafka-restaurants-secrets"
    for item in external["spec"]["data"]:
        assert set(item) == {"secretKey", "remoteRef"}


def test_make_secrets_never_overwrites_and_makes_new_values(tmp_path: Any) -> None:
    script = DEPLOY / "make-secrets.sh"
    subprocess.run(["bash", str(script), str(tmp_path / "a")], check=True, capture_output=True)
    subprocess.run(["bash", str(script), str(tmp_path / "b")], check=True, capture_output=True)
    first = (tmp_path / "a/.env").read_text()
    assert first != (tmp_path / "b/.env").read_text(), "values must be random"
    subprocess.run(["bash", str(script), str(tmp_path / "a")], check=True, capture_output=True)
    assert (tmp_path / "a/.env").read_text() == first, "an existing file must be kept"
    assert oct((tmp_path / "a/.env").stat().st_mode & 0o777) == "0o600"


def test_minikube_memory_requests_fit_in_two_gibibytes_and_match_the_readme(
    rendered: Rendered,
) -> None:
    rows = memory_rows(rendered["minikube"])
    total = sum(row.total_request for row in rows)
    assert total <= MEMORY_BUDGET, f"minikube requests {format_mi(total)} > 2 GiB"
    for row in rows:
        assert row.request <= row.limit, row
    readme = (DEPLOY / "README.md").read_text()
    assert f"**{format_mi(total)}**" in readme, (
        f"deploy/README.md's memory table must show the total of requests, {format_mi(total)}"
    )
    for row in rows:
        line = (
            f"| {row.component} | {row.pods} | {format_mi(row.request)} | {format_mi(row.limit)} |"
        )
        assert line in readme, f"deploy/README.md lacks the row: {line}"


def test_every_workload_scales_from_a_positive_minimum(rendered: Rendered) -> None:
    for overlay in OVERLAYS:
        for workload in of_kind(rendered[overlay], "Deployment"):
            assert minimum_pods(rendered[overlay], workload) >= 1, workload["metadata"]["name"]


def test_argo_cd_application_points_at_the_production_overlay() -> None:
    import yaml

    app = yaml.safe_load((DEPLOY / "argocd" / "application.yaml").read_text())
    assert app["kind"] == "Application"
    path = app["spec"]["source"]["path"]
    assert path == "deploy/k8s/overlays/production"
    assert (ROOT / path / "kustomization.yaml").is_file()
    assert app["spec"]["destination"]["namespace"] == "kafka-restaurants"
