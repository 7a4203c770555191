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
from tests.deploy.tools import DEPLOY, MINIKUBE_SECRET_FILES, ROOT

Rendered = dict[str, list[dict[str, Any]]]
SETTINGS_NAMES = {field.alias for field in Settings.model_fields.values() if field.alias}
# Variables our image reads besides Settings: deploy/docker/healthcheck.py.
IMAGE_NAMES = {"HEALTHCHECK_PORT", "HEALTHCHECK_PATH"}
# A Kafka client on Kubernetes: SCRAM over TLS as its own KafkaUser, the cluster CA mounted.
KAFKA_CLIENT = {
    "BOOTSTRAP_SVR",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CA_LOCATION",
}
BANK_CALLER_KEYS = {
    "BANK_CALLER_KEY_API",
    "BANK_CALLER_KEY_TRANSACTIONS",
    "BANK_CALLER_KEY_OPERATOR",
}
# What each process cannot do without in a container (the defaults suit only a laptop).
REQUIRED = {
    "api": {"HOST", "DATA_DIR", "DATABASE_URL", "BANK_URL", "BANK_API_KEY", *KAFKA_CLIENT},
    "bank": {"HOST", "DATA_DIR", "BANK_DATABASE_URL", *BANK_CALLER_KEYS},
    "transactions": {"HOST", "DATA_DIR", "BANK_URL", "BANK_API_KEY", *KAFKA_CLIENT},
    "mailer": {"HOST", "DATA_DIR", "MAILER_DATABASE_URL", "SMTP_HOST", "PUBLIC_URL", *KAFKA_CLIENT},
    "kitchen": {"HOST", "DATA_DIR", "KITCHEN_DATABASE_URL", "KITCHEN_SECRET", *KAFKA_CLIENT},
    "web": {"HOST", "DATA_DIR", "API_URL", "KITCHEN_URL", "CART_SECRET"},
    "migrate": {
        "DATA_DIR",
        "DATABASE_URL",
        "BANK_DATABASE_URL",
        "MAILER_DATABASE_URL",
        "KITCHEN_DATABASE_URL",
    },
    "topics": {"BOOTSTRAP_SVR"},
}
DATABASE_URLS = {
    "DATABASE_URL",
    "BANK_DATABASE_URL",
    "MAILER_DATABASE_URL",
    "KITCHEN_DATABASE_URL",
}
MEMORY_BUDGET = 2 * 1024 * 1024 * 1024


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_every_process(rendered: Rendered, overlay: str) -> None:
    processes = {process_of(container) for _, container in app_containers(rendered[overlay])}
    assert processes == {"api", "bank", "transactions", "mailer", "kitchen", "web", "migrate"}
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
    assert kafka_clients == {"api", "transactions", "mailer", "kitchen"}
    # Only the web replicas reach the kitchen's HTTP API.
    assert _allowed_sources(docs, "kitchen") == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "web"}}}
    ]
    assert named(docs, "Service", "kitchen")["spec"]["type"] == "ClusterIP"


def test_minikube_database_takes_connections_only_from_our_processes(rendered: Rendered) -> None:
    docs = rendered["minikube"]
    assert named(docs, "StatefulSet", "postgres")["spec"]["volumeClaimTemplates"]
    assert _allowed_sources(docs, "postgres") == [
        {"podSelector": {"matchLabels": {"kafka-restaurants/database-client": "true"}}}
    ]
    database_users = {
        process_of(container)
        for workload, container in app_containers(docs)
        if DATABASE_URLS & set(env_names(docs, container))
    }
    assert database_users == {"api", "bank", "mailer", "kitchen", "migrate"}
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
    # Minikube: each generated Secret holds exactly its file's values (make-secrets.sh's).
    import base64

    overlay = deploy_copy / "k8s/overlays/minikube"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    generated = {
        generator["name"]: _env_file(overlay / generator["envs"][0])
        for generator in kustomization["secretGenerator"]
    }
    secrets = {
        _base_name(secret["metadata"]["name"], set(generated)): {
            key: base64.b64decode(value).decode() for key, value in secret["data"].items()
        }
        for secret in of_kind(rendered["minikube"], "Secret")
    }
    assert secrets == generated
    assert len(generated["kafka-restaurants-secrets"]["CART_SECRET"]) >= 64
    # Production: no Secret at all; the External Secrets Operator makes them from a store.
    assert not of_kind(rendered["production"], "Secret")
    externals = of_kind(rendered["production"], "ExternalSecret")
    assert externals
    for external in externals:
        assert external["spec"]["target"]["name"] == external["metadata"]["name"]
        for item in external["spec"]["data"]:
            assert set(item) == {"secretKey", "remoteRef"}


def _env_file(path: Any) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line and not line.startswith("#")
    )


def _base_name(name: str, bases: set[str]) -> str:
    """A generated object's name without kustomize's hash suffix (`api-database-5fk2m9t8c4`)."""
    for base in bases:
        if name == base or (name.startswith(f"{base}-") and len(name) == len(base) + 11):
            return base
    return name


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


# --- Least privilege: each workload reads only its own credentials ------------------------

CLUSTER_CA = ("kafka-cluster-ca-cert", "ca.crt")  # public: the CA that signed the brokers
# public: the CA that signed api's, bank's and web's certificates (certificates.yaml)
SERVICE_CA = ("kafka-restaurants-ca", "ca.crt")
# workload -> every (Secret, key) its pods read, in both overlays ("*": the whole Secret).
# Strimzi makes kafka-user-<user> (KafkaUser) and kafka-cluster-ca-cert; the overlays make the
# rest (minikube: secretGenerator; production: ExternalSecret).
SECRET_READS: dict[str, set[tuple[str, str]]] = {
    "api": {
        ("api-database", "url"),
        ("bank-caller-api", "key"),
        ("kafka-user-api", "password"),
        CLUSTER_CA,
        ("api-tls", "tls.crt"),
        ("api-tls", "tls.key"),
        SERVICE_CA,
    },
    "transactions": {
        ("bank-caller-transactions", "key"),
        ("kafka-user-transactions", "password"),
        CLUSTER_CA,
        SERVICE_CA,
    },
    "mailer": {
        ("mailer-database", "url"),
        ("mailer-smtp", "user"),
        ("mailer-smtp", "password"),
        ("kafka-user-mailer", "password"),
        CLUSTER_CA,
    },
    "bank": {
        ("bank-database", "url"),
        ("bank-caller-api", "key"),
        ("bank-caller-transactions", "key"),
        ("bank-caller-operator", "key"),
        ("bank-tls", "tls.crt"),
        ("bank-tls", "tls.key"),
    },
    "web": {
        ("kafka-restaurants-secrets", "CART_SECRET"),
        ("web-tls", "tls.crt"),
        ("web-tls", "tls.key"),
        SERVICE_CA,
    },
    "kitchen": {
        ("kitchen-database", "url"),
        ("kitchen-secret", "key"),
        ("kafka-user-kitchen", "password"),
        CLUSTER_CA,
        ("kitchen-tls", "tls.crt"),
        ("kitchen-tls", "tls.key"),
    },
    "migrate": {
        ("api-database", "url"),
        ("bank-database", "url"),
        ("mailer-database", "url"),
        ("kitchen-database", "url"),
    },
    # Minikube only: the database server makes each service's role from its password.
    "postgres": {
        ("kafka-restaurants-secrets", "POSTGRES_PASSWORD"),
        ("api-database", "password"),
        ("bank-database", "password"),
        ("mailer-database", "password"),
        ("kitchen-database", "password"),
    },
    "mailpit": set(),
}


def _generated_names(docs: list[dict[str, Any]]) -> set[str]:
    """Names of Secrets and ConfigMaps kustomize generated (their names carry a hash suffix)."""
    names = set()
    for doc in docs:
        if doc["kind"] in {"Secret", "ConfigMap"}:
            name = doc["metadata"]["name"]
            base, _, suffix = name.rpartition("-")
            if base and len(suffix) == 10:
                names.add(base)
    return names


def secret_reads(docs: list[dict[str, Any]], workload: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (Secret, key) a workload's pods can read: env, envFrom and volumes ("*": all)."""
    bases = _generated_names(docs)
    raw: set[tuple[str, str]] = set()
    for container in containers(workload):
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                raw.add((source["secretRef"]["name"], "*"))
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                raw.add((ref["name"], ref["key"]))
    raw |= _volume_secret_reads(workload)
    return {(_base_name(name, bases), key) for name, key in raw}


def _volume_secret_reads(workload: dict[str, Any]) -> set[tuple[str, str]]:
    """(Secret, key) of every secret volume, projected ones included ("*": every key)."""
    reads: set[tuple[str, str]] = set()
    for volume in pod_spec(workload).get("volumes", []):
        for source in [volume, *volume.get("projected", {}).get("sources", [])]:
            secret = source.get("secret")
            if secret:
                name = secret.get("secretName") or secret["name"]
                for key in [item["key"] for item in secret.get("items", [])] or ["*"]:
                    reads.add((name, key))
    return reads


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_workload_reads_only_its_own_secrets(rendered: Rendered, overlay: str) -> None:
    docs = rendered[overlay]
    seen = set()
    for kind in ("Deployment", "StatefulSet", "Job"):
        for workload in of_kind(docs, kind):
            name = workload["metadata"]["name"]
            seen.add(name)
            reads = secret_reads(docs, workload)
            assert reads == SECRET_READS[name], (
                f"{overlay}/{name} reads {sorted(reads - SECRET_READS[name])} beyond its own, "
                f"lacks {sorted(SECRET_READS[name] - reads)}"
            )
    assert {"api", "bank", "transactions", "mailer", "web", "migrate"} <= seen


def _secret_ref(container: dict[str, Any], variable: str) -> tuple[str, str]:
    var = next(v for v in container["env"] if v["name"] == variable)
    ref = var["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_bank_caller_presents_the_key_the_bank_knows_it_by(
    rendered: Rendered, overlay: str
) -> None:
    docs = rendered[overlay]
    by_process = {process_of(c): c for _, c in app_containers(docs)}
    bank = by_process["bank"]
    for caller in ("api", "transactions"):
        presented = _secret_ref(by_process[caller], "BANK_API_KEY")
        assert presented == _secret_ref(bank, f"BANK_CALLER_KEY_{caller.upper()}"), caller
    # The operator's key is for people: no process presents it.
    operator = _secret_ref(bank, "BANK_CALLER_KEY_OPERATOR")
    keys = {_secret_ref(bank, name) for name in BANK_CALLER_KEYS}
    assert len(keys) == 3, "every caller has a key of its own"
    for process, container in by_process.items():
        if process != "bank":
            refs = {
                (v["valueFrom"]["secretKeyRef"]["name"], v["valueFrom"]["secretKeyRef"]["key"])
                for v in container.get("env", [])
                if "secretKeyRef" in v.get("valueFrom", {})
            }
            assert operator not in refs, f"{process} can read the bank's operator key"


def _listener(kafka: dict[str, Any], port: int) -> dict[str, Any]:
    found = [x for x in kafka["spec"]["kafka"]["listeners"] if x["port"] == port]
    assert len(found) == 1, f"no listener on port {port}"
    return found[0]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_takes_only_authenticated_tls_clients_each_as_its_own_user(
    rendered: Rendered, overlay: str
) -> None:
    docs = rendered[overlay]
    kafka = named(docs, "Kafka", "kafka")
    # Every listener: TLS and SCRAM; the broker's authorizer denies what no ACL allows.
    for listener in kafka["spec"]["kafka"]["listeners"]:
        assert listener["tls"] is True, listener["name"]
        assert listener["authentication"]["type"] == "scram-sha-512", listener["name"]
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    assert "allow.everyone.if.no.acl.found" not in kafka["spec"]["kafka"]["config"]
    prefix = kafka["spec"]["entityOperator"]["userOperator"]["secretPrefix"]
    ca_secret = f"{kafka['metadata']['name']}-cluster-ca-cert"
    users = {user["metadata"]["name"]: user for user in of_kind(docs, "KafkaUser")}
    config = of_kind(docs, "ConfigMap")
    bootstrap = next(c["data"]["BOOTSTRAP_SVR"] for c in config if "BOOTSTRAP_SVR" in c["data"])
    host, port = bootstrap.rsplit(":", 1)
    assert host == f"{kafka['metadata']['name']}-kafka-bootstrap"
    _listener(kafka, int(port))
    clients = set()
    for workload, container in app_containers(docs):
        names = env_names(docs, container)
        if "KAFKA_SASL_USERNAME" not in names:
            continue
        process = process_of(container)
        user = names["KAFKA_SASL_USERNAME"]
        clients.add(process)
        assert user == process, f"{process} logs in as {user}"
        assert users[user]["spec"]["authentication"]["type"] == "scram-sha-512"
        assert names["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", process
        assert names["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", process
        assert _secret_ref(container, "KAFKA_SASL_PASSWORD") == (f"{prefix}{user}", "password")
        # The CA file is the ca.crt of the cluster CA's Secret, mounted read-only.
        ca_file = str(names["KAFKA_SSL_CA_LOCATION"])
        volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
        mounts = [m for m in container["volumeMounts"] if ca_file.startswith(m["mountPath"] + "/")]
        assert len(mounts) == 1 and mounts[0].get("readOnly") is True, process
        secret = volumes[mounts[0]["name"]]["secret"]
        assert secret["secretName"] == ca_secret
        item = ca_file.removeprefix(mounts[0]["mountPath"] + "/")
        assert {"key": "ca.crt", "path": item} in secret["items"], process
    assert clients == {"api", "transactions", "mailer", "kitchen"}
    # KEDA reads the lag as `keda`, over the same listener, checking the same CA.
    auths = {a["metadata"]["name"]: a for a in of_kind(docs, "TriggerAuthentication")}
    for scaled in of_kind(docs, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["metadata"]["bootstrapServers"].endswith(f":{port}")
            auth = auths[trigger["authenticationRef"]["name"]]["spec"]
            secrets = {r["parameter"]: (r["name"], r["key"]) for r in auth["secretTargetRef"]}
            assert secrets == {
                "password": (f"{prefix}keda", "password"),
                "ca": (ca_secret, "ca.crt"),
            }
            plain = {
                r["parameter"]: named(docs, "ConfigMap", r["name"])["data"][r["key"]]
                for r in auth["configMapTargetRef"]
            }
            assert plain == {"sasl": "scram_sha512", "tls": "enable", "username": "keda"}


def _expected_acls() -> dict[str, set[tuple[str, str, str, str]]]:
    """user -> {(resource type, name, pattern, operation)}: what each service's code does."""
    from kafka_restaurants.api import order_status
    from kafka_restaurants.events.topics import ORDER, ORDER_CONFIRM, ORDER_DECLINED, ORDER_STATUS
    from kafka_restaurants.events.topics import dead_letter_topic as dlq
    from kafka_restaurants.kitchen.follower import GROUP_ID as KITCHEN_GROUP
    from kafka_restaurants.mailer.app import GROUP_ID as MAILER_GROUP
    from kafka_restaurants.transactions.app import GROUP_ID as TRANSACTIONS_GROUP

    def read(*topics: str) -> set[tuple[str, str, str, str]]:
        return {("topic", t, "literal", "Read") for t in topics}

    def write(*topics: str) -> set[tuple[str, str, str, str]]:
        return {("topic", t, "literal", "Write") for t in topics}

    def group(name: str, operation: str = "Read") -> set[tuple[str, str, str, str]]:
        return {("group", name, "literal", operation)}

    return {
        # Its outbox publishes orders and the reconciler's confirmations; its order-status
        # consumer reads both results and dead-letters what it cannot apply.
        "api": read(*order_status.TOPICS)
        | write(ORDER, ORDER_CONFIRM, *(dlq(t) for t in order_status.TOPICS))
        | group(order_status.GROUP_ID),
        # Transactional ids are `<group>-<host>-<pid>` (messaging/consumer.py).
        "transactions": read(ORDER)
        | write(ORDER_CONFIRM, ORDER_DECLINED, dlq(ORDER))
        | group(TRANSACTIONS_GROUP)
        | {("transactionalId", f"{TRANSACTIONS_GROUP}-", "prefix", "Write")},
        "mailer": read(ORDER_CONFIRM, ORDER_STATUS)
        | write(dlq(ORDER_CONFIRM), dlq(ORDER_STATUS))
        | group(MAILER_GROUP),
        "kitchen": read(ORDER_CONFIRM)
        | {("topic", ORDER_STATUS, "literal", op) for op in ("Read", "Write")}
        | write(dlq(ORDER_CONFIRM), dlq(ORDER_STATUS))
        | group(KITCHEN_GROUP),
        "keda": {("topic", t, "literal", "Describe") for t in (ORDER, ORDER_CONFIRM)}
        | group(TRANSACTIONS_GROUP, "Describe")
        | group(MAILER_GROUP, "Describe"),
    }


def kafka_user_acls(docs: list[dict[str, Any]]) -> dict[str, set[tuple[str, str, str, str]]]:
    """user -> its ACLs as (resource type, name, pattern, operation); allow rules only."""
    acls: dict[str, set[tuple[str, str, str, str]]] = {}
    for user in of_kind(docs, "KafkaUser"):
        assert user["spec"]["authorization"]["type"] == "simple"
        rules = set()
        for acl in user["spec"]["authorization"]["acls"]:
            assert acl.get("type", "allow") == "allow" and acl.get("host", "*") == "*", acl
            resource = acl["resource"]
            for operation in acl["operations"]:
                rules.add(
                    (
                        resource["type"],
                        resource.get("name", ""),
                        resource.get("patternType", "literal"),
                        operation,
                    )
                )
        acls[user["metadata"]["name"]] = rules
    return acls


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_user_acls_match_what_each_service_does(rendered: Rendered, overlay: str) -> None:
    users = of_kind(rendered[overlay], "KafkaUser")
    for user in users:
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "kafka"
    assert kafka_user_acls(rendered[overlay]) == _expected_acls()


def test_kafka_user_acls_match_the_secured_local_broker(rendered: Rendered) -> None:
    # One table for both brokers: `restaurants up --secure` provisions SERVICE_GRANTS itself.
    principals = pytest.importorskip("kafka_restaurants.messaging.principals")
    resource_types = {"topic": "topic", "group": "group", "transactional_id": "transactionalId"}
    local = {
        user: {
            (
                resource_types[grant.resource],
                grant.name,
                "prefix" if grant.prefixed else "literal",
                grant.operation.capitalize(),
            )
            for grant in grants
        }
        for user, grants in principals.SERVICE_GRANTS.items()
    }
    ours = kafka_user_acls(rendered["production"])
    assert {user: ours[user] for user in local} == local


def test_a_service_reading_another_services_kafka_secret_is_caught(rendered: Rendered) -> None:
    # The check above can fail: the mailer given the api's Kafka password is refused.
    import copy

    docs = copy.deepcopy(rendered["minikube"])
    mailer = named(docs, "Deployment", "mailer")
    mailer["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {
            "name": "KAFKA_SASL_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "kafka-user-api", "key": "password"}},
        }
    )
    assert secret_reads(docs, mailer) != SECRET_READS["mailer"]


def test_production_rate_limits_order_placement_at_the_ingress(rendered: Rendered) -> None:
    docs = rendered["production"]
    ingresses = {i["metadata"]["name"]: i for i in of_kind(docs, "Ingress")}
    site, checkout = ingresses["web"], ingresses["web-checkout"]
    limit = "nginx.ingress.kubernetes.io/limit-rps"
    assert int(site["metadata"]["annotations"][limit]) >= 10, "pages and assets need room"
    assert int(checkout["metadata"]["annotations"][limit]) == 1
    multiplier = "nginx.ingress.kubernetes.io/limit-burst-multiplier"
    assert int(checkout["metadata"]["annotations"][multiplier]) == 10
    (rule,) = checkout["spec"]["rules"]
    assert rule["host"] == site["spec"]["rules"][0]["host"]
    assert rule["http"]["paths"] == [
        {
            "path": "/checkout",
            "pathType": "Exact",
            "backend": {"service": {"name": "web", "port": {"name": "https"}}},
        }
    ]
    assert checkout["spec"]["ingressClassName"] == site["spec"]["ingressClassName"]
    # One certificate, asked for once (cert-manager would fight over a shared Secret).
    assert checkout["spec"]["tls"] == site["spec"]["tls"]
    assert "cert-manager.io/cluster-issuer" not in checkout["metadata"]["annotations"]


def test_minikube_database_makes_one_role_per_service(rendered: Rendered) -> None:
    docs = rendered["minikube"]
    postgres = named(docs, "StatefulSet", "postgres")
    (container,) = containers(postgres)
    mount = next(
        m for m in container["volumeMounts"] if m["mountPath"] == "/docker-entrypoint-initdb.d"
    )
    volume = next(v for v in pod_spec(postgres)["volumes"] if v["name"] == mount["name"])
    init = next(
        c
        for c in of_kind(docs, "ConfigMap")
        if c["metadata"]["name"] == volume["configMap"]["name"]
    )
    (script,) = init["data"].values()
    for service in ("api", "bank", "mailer"):
        variable = f"{service.upper()}_DB_PASSWORD"
        assert f"${{{variable}" in script, service
        assert _secret_ref(container, variable)[1] == "password"
    # Each service's URL names its own role and database (make-secrets.sh writes them so).
    import base64

    for service in ("api", "bank", "mailer"):
        secret = next(
            s
            for s in of_kind(docs, "Secret")
            if _base_name(s["metadata"]["name"], {f"{service}-database"}) == f"{service}-database"
        )
        url = base64.b64decode(secret["data"]["url"]).decode()
        password = base64.b64decode(secret["data"]["password"]).decode()
        assert url == f"postgresql+psycopg://{service}:{password}@postgres:5432/{service}"


def test_make_secrets_writes_every_file_the_minikube_overlay_reads(tmp_path: Any) -> None:
    subprocess.run(
        ["bash", str(DEPLOY / "make-secrets.sh"), str(tmp_path)], check=True, capture_output=True
    )
    overlay = tmp_path / "k8s/overlays/minikube"
    for name, keys in MINIKUBE_SECRET_FILES.items():
        path = overlay / name
        assert path.is_file(), f"make-secrets.sh does not write {name}"
        assert oct(path.stat().st_mode & 0o777) == "0o600", name
        values = _env_file(path)
        assert set(values) == set(keys), name
        if "url" in values:
            service = name.removeprefix("secrets/").removesuffix("-database.env")
            assert values["url"] == (
                f"postgresql+psycopg://{service}:{values['password']}@postgres:5432/{service}"
            )


def _psql(server: Any, user: str, database: str, sql: str, env: dict[str, str]) -> Any:
    return subprocess.run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-X", "-qAt", "-U", user, "-d", database, "-c", sql],
        env={**env, "PGHOST": server.host, "PGPORT": str(server.port)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_minikube_database_init_script_gives_each_service_only_its_own_database(
    postgres_url: str,
) -> None:
    # The script the postgres image runs on first start, against a real PostgreSQL (as the
    # image's entrypoint does: sourced by bash; and again by hand with sh, as the README says).
    import os
    import shutil

    from sqlalchemy.engine import make_url

    from tests.fixtures.components import require

    require(shutil.which("psql") is not None, "psql (apt-get install postgresql-client)")
    server = make_url(postgres_url)
    script = DEPLOY / "k8s/overlays/minikube/postgres-init/10-service-roles.sh"
    env = {
        "PATH": os.environ["PATH"],
        "PGHOST": str(server.host),
        "PGPORT": str(server.port),
        "POSTGRES_USER": str(server.username),
        "POSTGRES_DB": str(server.database),
        "API_DB_PASSWORD": "api-secret",
        "BANK_DB_PASSWORD": "bank-secret",
        "MAILER_DB_PASSWORD": "mailer-secret",
        "KITCHEN_DB_PASSWORD": "kitchen-secret",
    }
    admin = (str(server.username), str(server.database))
    existing = _psql(server, *admin, "SELECT datname FROM pg_database", env).stdout.split()
    if {"api", "bank", "mailer", "kitchen"} & set(existing):
        pytest.skip("this PostgreSQL server already has a database named after a service")
    try:
        for shell in (["bash", "-c", f". {script}"], ["sh", str(script)]):
            result = subprocess.run(shell, env=env, capture_output=True, text=True, check=False)
            assert result.returncode == 0, result.stderr
        for service in ("api", "bank", "mailer", "kitchen"):
            # Its own database: it owns it, so its migrations can create tables.
            made = _psql(server, service, service, "CREATE TABLE t (x int); SELECT 1", env)
            assert made.returncode == 0 and made.stdout.strip() == "1", made.stderr
            for other in {"api", "bank", "mailer", "kitchen", str(server.database)} - {service}:
                refused = _psql(server, service, other, "SELECT 1", env)
                assert refused.returncode != 0, f"{service} reached the database {other}"
                assert "permission denied" in refused.stderr, refused.stderr
            stored = _psql(
                server,
                *admin,
                f"SELECT rolpassword, rolsuper, rolcreatedb, rolcreaterole FROM pg_authid "
                f"WHERE rolname = '{service}'",
                env,
            ).stdout.strip()
            assert stored.startswith(("SCRAM-SHA-256$", "md5")) and stored.endswith("|f|f|f")
        # Without a password the script stops rather than make a role anyone can log in as.
        missing = subprocess.run(
            ["sh", str(script)],
            env={k: v for k, v in env.items() if k != "BANK_DB_PASSWORD"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert missing.returncode != 0 and "no database password for bank" in missing.stderr
    finally:
        for service in ("api", "bank", "mailer", "kitchen"):
            _psql(server, *admin, f"DROP DATABASE IF EXISTS {service} WITH (FORCE)", env)
            _psql(server, *admin, f"DROP ROLE IF EXISTS {service}", env)
        _psql(server, *admin, "GRANT CONNECT, TEMPORARY ON DATABASE postgres TO PUBLIC", env)
