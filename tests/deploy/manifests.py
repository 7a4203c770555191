"""Plain functions over rendered Kubernetes documents: workloads, env, memory requests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")
APP_IMAGE = "kafka-restaurants"


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    """The documents of one kind."""
    return [doc for doc in docs if doc.get("kind") == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    """The one document of `kind` called `name`."""
    found = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: Doc) -> Doc:
    """The pod spec of a Deployment, StatefulSet or Job."""
    return workload["spec"]["template"]["spec"]


def containers(workload: Doc) -> list[Doc]:
    """The containers (init containers included) of a workload."""
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def is_app_image(image: str) -> bool:
    """Whether `image` is ours (under any registry), not a third-party one."""
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return repository.rsplit("/", 1)[-1] == APP_IMAGE


def app_containers(docs: list[Doc]) -> Iterator[tuple[Doc, Doc]]:
    """(workload, container) for every container that runs our image."""
    for kind in WORKLOAD_KINDS:
        for workload in of_kind(docs, kind):
            for container in containers(workload):
                if is_app_image(container["image"]):
                    yield workload, container


def process_of(container: Doc) -> str:
    """What the container runs: `serve api` -> api, `migrate` -> migrate."""
    args = container.get("args") or container.get("command") or []
    return args[1] if args[:1] == ["serve"] else args[0]


def env_names(docs: list[Doc], container: Doc) -> dict[str, str | None]:
    """Every variable the container gets: name -> literal value (None when from a Secret/field)."""
    names: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            config = named(docs, "ConfigMap", source["configMapRef"]["name"])
            names.update(config.get("data", {}))
        elif "secretRef" in source:
            secret = named(docs, "Secret", source["secretRef"]["name"])
            names.update(dict.fromkeys(secret.get("data", {})))
    for var in container.get("env", []):
        names[var["name"]] = var.get("value")
    return names


MI = 1024 * 1024
UNITS = {"Ki": 1024, "Mi": MI, "Gi": 1024 * MI, "K": 1000, "M": 1000**2, "G": 1000**3}


def memory_bytes(quantity: str | int) -> int:
    """A Kubernetes memory quantity ("640Mi", "1Gi", "512M") in bytes."""
    text = str(quantity)
    for suffix in sorted(UNITS, key=len, reverse=True):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * UNITS[suffix])
    return int(text)


@dataclass(frozen=True)
class MemoryRow:
    """One component's memory: pods at the minimum scale, per-pod request and limit."""

    component: str
    pods: int
    request: int
    limit: int

    @property
    def total_request(self) -> int:
        return self.pods * self.request


def minimum_pods(docs: list[Doc], workload: Doc) -> int:
    """Pods a workload runs at rest: its replicas, or its autoscaler's minimum."""
    name = workload["metadata"]["name"]
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] == name:
            return int(hpa["spec"].get("minReplicas", 1))
    for scaled in of_kind(docs, "ScaledObject"):
        if scaled["spec"]["scaleTargetRef"]["name"] == name:
            return int(scaled["spec"].get("minReplicaCount", 0))
    if workload["kind"] == "Job":
        return int(workload["spec"].get("parallelism", 1))
    return int(workload["spec"].get("replicas", 1))


def _row(component: str, pods: int, resources: Doc) -> MemoryRow:
    return MemoryRow(
        component,
        pods,
        memory_bytes(resources["requests"]["memory"]),
        memory_bytes(resources["limits"]["memory"]),
    )


def memory_rows(docs: list[Doc]) -> list[MemoryRow]:
    """Memory of every pod the overlay runs, Strimzi's Kafka and topic operator included."""
    rows = []
    for kind in WORKLOAD_KINDS:
        for workload in of_kind(docs, kind):
            for container in containers(workload):
                label = f"{workload['metadata']['name']} ({kind})"
                rows.append(_row(label, minimum_pods(docs, workload), container["resources"]))
    for pool in of_kind(docs, "KafkaNodePool"):
        label = f"kafka {pool['metadata']['name']} (KafkaNodePool)"
        rows.append(_row(label, int(pool["spec"]["replicas"]), pool["spec"]["resources"]))
    for kafka in of_kind(docs, "Kafka"):
        operators = kafka["spec"].get("entityOperator", {})
        for operator in ("topicOperator", "userOperator"):
            if operator in operators:
                label = f"kafka {operator} (Kafka)"
                rows.append(_row(label, 1, operators[operator]["resources"]))
    return rows


def format_mi(value: int) -> str:
    """Bytes as whole MiB, the unit of the README's table."""
    return f"{value // MI} Mi"


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector (matchLabels and matchExpressions) selects `labels`."""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        plain = {key: value for key, value in selector.items() if isinstance(value, str)}
        return all(labels.get(key) == value for key, value in plain.items())
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pod_templates(docs: list[Doc]) -> dict[str, dict[str, str]]:
    """Every pod template's labels, by `Kind/name` of its workload."""
    return {
        f"{doc['kind']}/{doc['metadata']['name']}": doc["spec"]["template"]["metadata"]["labels"]
        for kind in WORKLOAD_KINDS
        for doc in of_kind(docs, kind)
    }


def referenced_config(workload: Doc) -> set[tuple[str, str, str | None]]:
    """(kind, name, key or None) of every Secret and ConfigMap a workload's pods read."""
    refs: set[tuple[str, str, str | None]] = set()
    for container in containers(workload):
        refs |= _env_config(container)
    for volume in pod_spec(workload).get("volumes", []):
        if "secret" in volume:
            refs.add(("Secret", volume["secret"]["secretName"], None))
        if "configMap" in volume:
            refs.add(("ConfigMap", volume["configMap"]["name"], None))
    return refs


def _env_config(container: Doc) -> set[tuple[str, str, str | None]]:
    """The Secrets and ConfigMaps (with the key, for one variable) a container's env reads."""
    refs: set[tuple[str, str, str | None]] = set()
    for source in container.get("envFrom", []):
        for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if field in source and not source[field].get("optional"):
                refs.add((kind, source[field]["name"], None))
    for var in container.get("env", []):
        origin = var.get("valueFrom", {})
        for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            if field in origin and not origin[field].get("optional"):
                refs.add((kind, origin[field]["name"], origin[field]["key"]))
    return refs
