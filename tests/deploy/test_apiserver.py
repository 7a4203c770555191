"""A real kube-apiserver, with the operators' current CRDs, accepts every manifest we ship.

Static checks cannot tell whether an operator still serves the API version a manifest names, or
whether a field is one its schema knows; this is what a cluster would answer, minus the kubelet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.apiserver import (
    BUILD_TIMEOUT,
    Kubectl,
    build_binaries,
    install_crds,
    running_apiserver,
)
from tests.deploy.conftest import OVERLAYS
from tests.deploy.manifests import (
    Doc,
    named,
    of_kind,
    pod_templates,
    referenced_config,
    selects,
)
from tests.deploy.tools import DEPLOY

Rendered = dict[str, list[Doc]]
NAMESPACE = "kafka-restaurants"
CRDS = DEPLOY / "crds"
APPLICATION = DEPLOY / "argocd" / "application.yaml"
# The kinds our overlays hold, to read back what a real apply stored.
KINDS = (
    "deployments,statefulsets,jobs,services,configmaps,secrets,serviceaccounts,ingresses,"
    "networkpolicies,poddisruptionbudgets,horizontalpodautoscalers,"
    "scaledobjects.keda.sh,externalsecrets.external-secrets.io,"
    "kafkas.kafka.strimzi.io,kafkanodepools.kafka.strimzi.io,kafkatopics.kafka.strimzi.io,"
    "kafkausers.kafka.strimzi.io,triggerauthentications.keda.sh,"
    "certificates.cert-manager.io,issuers.cert-manager.io"
)
# The keys of the Secrets Strimzi makes: each SCRAM KafkaUser's, and the cluster CA's certificate.
STRIMZI_USER_SECRET_KEYS = {"password", "sasl.jaas.config"}
STRIMZI_CA_CERT_KEYS = {"ca.crt", "ca.p12", "ca.password"}
CERT_MANAGER_SECRET_KEYS = {"tls.crt", "tls.key", "ca.crt"}


# Cold, the first test builds kube-apiserver and kubectl from the Go module proxy (about 7
# minutes on two cores, past the suite's 300 s per test); cached, seconds.
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 300)


@pytest.fixture(scope="session")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    """An API server with every CRD of deploy/crds installed, and the namespaces we deploy to."""
    build_binaries()
    with running_apiserver(tmp_path_factory.mktemp("apiserver")) as kubectl:
        install_crds(kubectl, CRDS)
        # Argo CD's own namespace, where the Application lives (Argo CD's install makes it).
        kubectl.ok("create", "namespace", "argocd")
        yield kubectl


def write_docs(path: Path, docs: list[Doc]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def create_namespace(kubectl: Kubectl, docs: list[Doc]) -> Doc:
    """The overlay's own Namespace, applied for real: a dry run needs the namespace to exist."""
    namespace = named(docs, "Namespace", NAMESPACE)
    kubectl.ok("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(namespace))
    return namespace


def server_dry_run(kubectl: Kubectl, path: Path) -> tuple[int, str]:
    """What the API server says to a strict server-side apply of `path`: (code, stderr)."""
    result = kubectl.run(
        "apply", "--server-side", "--dry-run=server", "--validate=strict", "-f", str(path)
    )
    return result.returncode, result.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_namespace_enforces_the_restricted_pod_security_standard(
    kubectl: Kubectl, rendered: Rendered, overlay: str
) -> None:
    namespace = create_namespace(kubectl, rendered[overlay])
    stored = json.loads(kubectl.ok("get", "namespace", NAMESPACE, "-o", "json"))
    labels = stored["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted", namespace


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_of_the_overlay_is_accepted_without_a_warning(
    kubectl: Kubectl, rendered: Rendered, overlay: str, tmp_path: Path
) -> None:
    create_namespace(kubectl, rendered[overlay])
    code, stderr = server_dry_run(kubectl, write_docs(tmp_path / "all.yaml", rendered[overlay]))
    assert code == 0, f"{overlay}: the API server refused:\n{stderr}"
    assert "Warning" not in stderr, f"{overlay}: the API server warned:\n{stderr}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_template_is_admitted_under_restricted_pod_security(
    kubectl: Kubectl, rendered: Rendered, overlay: str, tmp_path: Path
) -> None:
    # Without controllers no Pod is ever made from a template, so each template is sent as a
    # Pod: Pod Security Admission's enforce mode judges Pods, not the workloads that make them.
    create_namespace(kubectl, rendered[overlay])
    # Pods need their ServiceAccount to exist; a cluster's controller manager makes `default`.
    accounts = of_kind(rendered[overlay], "ServiceAccount")
    accounts.append({"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": "default", "namespace": NAMESPACE}})  # fmt: skip
    kubectl.ok("apply", "--server-side", "-f", str(write_docs(tmp_path / "sa.yaml", accounts)))
    pods = []
    for kind in ("Deployment", "StatefulSet", "Job"):
        for workload in of_kind(rendered[overlay], kind):
            template = workload["spec"]["template"]
            spec = dict(template["spec"])
            # As the StatefulSet controller does: each claim template becomes a claim volume.
            for claim in workload["spec"].get("volumeClaimTemplates", []):
                claim_name = f"{claim['metadata']['name']}-{workload['metadata']['name']}-0"
                spec["volumes"] = [*spec.get("volumes", []), {
                    "name": claim["metadata"]["name"],
                    "persistentVolumeClaim": {"claimName": claim_name},
                }]  # fmt: skip
            pods.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{kind.lower()}-{workload['metadata']['name']}",
                        "namespace": NAMESPACE,
                        "labels": template["metadata"]["labels"],
                    },
                    "spec": spec,
                }
            )
    assert len(pods) >= 6
    code, stderr = server_dry_run(kubectl, write_docs(tmp_path / "pods.yaml", pods))
    assert code == 0, f"{overlay}: a pod would be refused:\n{stderr}"
    assert "Warning" not in stderr, stderr


def test_argo_cd_application_is_accepted_without_a_warning(kubectl: Kubectl) -> None:
    code, stderr = server_dry_run(kubectl, APPLICATION)
    assert code == 0, f"the API server refused the Application:\n{stderr}"
    assert "Warning" not in stderr, stderr


def test_a_manifest_of_an_api_the_operator_no_longer_serves_is_refused(
    kubectl: Kubectl, rendered: Rendered, tmp_path: Path
) -> None:
    # The check above can fail: Strimzi 1.x refuses the v1beta2 our manifests used to name.
    create_namespace(kubectl, rendered["minikube"])
    kafka = named(rendered["minikube"], "Kafka", "kafka")
    kafka = dict(kafka, apiVersion="kafka.strimzi.io/v1beta2")
    code, stderr = server_dry_run(kubectl, write_docs(tmp_path / "old.yaml", [kafka]))
    assert code != 0
    assert "no matches for kind" in stderr, stderr
    unknown = json.loads(json.dumps(named(rendered["minikube"], "Deployment", "api")))
    unknown["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    code, stderr = server_dry_run(kubectl, write_docs(tmp_path / "typo.yaml", [unknown]))
    assert code != 0 and "readinesProbe" in stderr, stderr


@pytest.fixture(params=OVERLAYS)
def applied(
    request: pytest.FixtureRequest, kubectl: Kubectl, rendered: Rendered, tmp_path: Path
) -> Iterator[tuple[str, list[Doc]]]:
    """An overlay applied for real and read back from the server; deleted again afterwards."""
    overlay = str(request.param)
    docs = rendered[overlay]
    create_namespace(kubectl, docs)
    objects = write_docs(tmp_path / "objects.yaml", [d for d in docs if d["kind"] != "Namespace"])
    kubectl.ok("apply", "--server-side", "-f", str(objects))
    stored = json.loads(kubectl.ok("get", KINDS, "-n", NAMESPACE, "-o", "json"))["items"]
    try:
        yield overlay, stored
    finally:
        kubectl.ok("delete", "-f", str(objects), "--wait=false")


def test_a_real_apply_stores_every_object(
    applied: tuple[str, list[Doc]], rendered: Rendered
) -> None:
    overlay, stored = applied
    expected = {
        (doc["kind"], doc["metadata"]["name"])
        for doc in rendered[overlay]
        if doc["kind"] != "Namespace"
    }
    found = {(doc["kind"], doc["metadata"]["name"]) for doc in stored}
    # The server adds the namespace's default ServiceAccount; nothing of ours may be missing.
    assert expected <= found, expected - found


def test_services_and_budgets_select_pod_templates(applied: tuple[str, list[Doc]]) -> None:
    overlay, stored = applied
    templates = pod_templates(stored)
    for kind in ("Service", "PodDisruptionBudget"):
        for doc in of_kind(stored, kind):
            selector: Any = doc["spec"].get("selector") or {}
            if not selector:  # a Service without a selector (none of ours) has manual endpoints
                continue
            chosen = [name for name, labels in templates.items() if selects(selector, labels)]
            assert chosen, f"{overlay}: {kind} {doc['metadata']['name']} selects no pod template"


def test_network_policies_select_existing_pod_templates(applied: tuple[str, list[Doc]]) -> None:
    overlay, stored = applied
    templates = pod_templates(stored)
    for policy in of_kind(stored, "NetworkPolicy"):
        name = policy["metadata"]["name"]
        selectors = [policy["spec"]["podSelector"]]
        for rule in policy["spec"].get("ingress", []) + policy["spec"].get("egress", []):
            for peer in rule.get("from", []) + rule.get("to", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    selectors.append(peer["podSelector"])
        for selector in selectors:
            chosen = [t for t, labels in templates.items() if selects(selector, labels)]
            assert chosen, f"{overlay}: NetworkPolicy {name}: {selector} selects no pod template"


def test_autoscalers_target_existing_deployments(applied: tuple[str, list[Doc]]) -> None:
    overlay, stored = applied
    deployments = {doc["metadata"]["name"] for doc in of_kind(stored, "Deployment")}
    scalers = of_kind(stored, "HorizontalPodAutoscaler") + of_kind(stored, "ScaledObject")
    assert scalers
    for scaler in scalers:
        target = scaler["spec"]["scaleTargetRef"]
        assert target.get("kind", "Deployment") == "Deployment", scaler["metadata"]["name"]
        assert target["name"] in deployments, f"{overlay}: {scaler['metadata']['name']} -> {target}"


def made_config(stored: list[Doc]) -> dict[tuple[str, str], set[str]]:
    """(kind, name) -> keys of every Secret and ConfigMap the overlay makes, itself or through
    an operator (External Secrets, Strimzi, cert-manager)."""
    keys: dict[tuple[str, str], set[str]] = {}
    for kind in ("Secret", "ConfigMap"):
        for doc in of_kind(stored, kind):
            keys[(kind, doc["metadata"]["name"])] = set(doc.get("data", {}))
    # The External Secrets Operator makes its target Secret with the keys the ExternalSecret lists.
    for external in of_kind(stored, "ExternalSecret"):
        target = external["spec"]["target"]["name"]
        keys[("Secret", target)] = {item["secretKey"] for item in external["spec"]["data"]}
    keys |= strimzi_secrets(stored)
    # cert-manager makes each Certificate's Secret (its certificate, key and the issuing CA's
    # certificate).
    for certificate in of_kind(stored, "Certificate"):
        keys[("Secret", certificate["spec"]["secretName"])] = CERT_MANAGER_SECRET_KEYS
    return keys


def strimzi_secrets(stored: list[Doc]) -> dict[tuple[str, str], set[str]]:
    """The Secrets Strimzi makes: one per KafkaUser (user operator) and the cluster CA's."""
    keys: dict[tuple[str, str], set[str]] = {}
    for kafka in of_kind(stored, "Kafka"):
        cluster = kafka["metadata"]["name"]
        keys[("Secret", f"{cluster}-cluster-ca-cert")] = STRIMZI_CA_CERT_KEYS
        prefix = kafka["spec"]["entityOperator"]["userOperator"].get("secretPrefix", "")
        for user in of_kind(stored, "KafkaUser"):
            if user["metadata"]["labels"]["strimzi.io/cluster"] == cluster:
                keys[("Secret", f"{prefix}{user['metadata']['name']}")] = STRIMZI_USER_SECRET_KEYS
    return keys


def assert_keda_reads_what_exists(
    overlay: str, stored: list[Doc], keys: dict[tuple[str, str], set[str]]
) -> None:
    """KEDA reads what its TriggerAuthentications name; every ScaledObject names one that exists."""
    auths = {doc["metadata"]["name"]: doc for doc in of_kind(stored, "TriggerAuthentication")}
    for scaled in of_kind(stored, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["authenticationRef"]["name"] in auths, scaled["metadata"]["name"]
    for name, auth in auths.items():
        for field, kind in (("secretTargetRef", "Secret"), ("configMapTargetRef", "ConfigMap")):
            for ref in auth["spec"].get(field, []):
                where = f"{overlay}: TriggerAuthentication {name} reads {kind} {ref['name']}"
                assert (kind, ref["name"]) in keys, f"{where}, which the overlay does not make"
                assert ref["key"] in keys[(kind, ref["name"])], f"{where} key {ref['key']}"


def test_every_secret_and_config_map_a_pod_reads_exists_in_the_overlay(
    applied: tuple[str, list[Doc]],
) -> None:
    overlay, stored = applied
    keys = made_config(stored)
    # A CA Issuer signs with a Secret one of the Certificates makes.
    for issuer in of_kind(stored, "Issuer"):
        if "ca" in issuer["spec"]:
            made = ("Secret", issuer["spec"]["ca"]["secretName"])
            assert made in keys, f"{overlay}: Issuer {issuer['metadata']['name']} lacks {made}"
    assert_keda_reads_what_exists(overlay, stored, keys)
    for kind in ("Deployment", "StatefulSet", "Job"):
        for workload in of_kind(stored, kind):
            for ref_kind, name, key in referenced_config(workload):
                where = f"{overlay}: {kind} {workload['metadata']['name']} reads {ref_kind} {name}"
                assert (ref_kind, name) in keys, f"{where}, which the overlay does not make"
                if key is not None:
                    assert key in keys[(ref_kind, name)], f"{where} key {key}, which it lacks"
