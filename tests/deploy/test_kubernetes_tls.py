"""Card data crosses the cluster over TLS: web -> api -> bank on https, certificates from
cert-manager, each server's key mounted into that server only, clients checking the CA."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.conftest import OVERLAYS
from tests.deploy.manifests import app_containers, env_names, named, of_kind, pod_spec, process_of
from tests.deploy.test_kubernetes import secret_reads

Rendered = dict[str, list[dict[str, Any]]]
Doc = dict[str, Any]
NAMESPACE = "kafka-restaurants"
# The kitchen too: web sends it each restaurant's kitchen-link key.
SERVERS = {"api": 5000, "bank": 5100, "web": 8088, "kitchen": 5401}
CA_SECRET = "kafka-restaurants-ca"
# Who calls an https server, so needs the CA's public certificate.
CLIENTS = {"web", "api", "transactions"}


def _mounted_path(workload: Doc, container: Doc, path: str) -> tuple[str, str] | None:
    """(Secret, key) behind the file `path` in the container, if a Secret volume provides it."""
    volumes = {volume["name"]: volume for volume in pod_spec(workload).get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        secret = volumes[mount["name"]].get("secret")
        assert secret, f"{path} is not from a Secret"
        assert mount.get("readOnly") is True, f"{mount['name']} is mounted writable"
        file = path[len(prefix) :]
        for item in secret.get("items", []):
            if item["path"] == file:
                return secret["secretName"], item["key"]
    return None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_bank_and_web_serve_https_and_clients_check_them_against_the_ca(
    rendered: Rendered, overlay: str
) -> None:
    docs = rendered[overlay]
    seen = set()
    for workload, container in app_containers(docs):
        process = process_of(container)
        env = env_names(docs, container)
        if process in SERVERS:
            seen.add(process)
            assert _mounted_path(workload, container, env["TLS_CERT_FILE"] or "") == (
                f"{process}-tls",
                "tls.crt",
            )
            assert _mounted_path(workload, container, env["TLS_KEY_FILE"] or "") == (
                f"{process}-tls",
                "tls.key",
            )
            ports = {port["name"]: port["containerPort"] for port in container["ports"]}
            assert ports == {"https": SERVERS[process]}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if probe in container:
                    assert container[probe]["httpGet"]["scheme"] == "HTTPS", (process, probe)
        else:
            assert "TLS_CERT_FILE" not in env and "TLS_KEY_FILE" not in env, process
        if process in CLIENTS:
            assert _mounted_path(workload, container, env["TLS_CA_FILE"] or "") == (
                CA_SECRET,
                "ca.crt",
            ), process
        if process in {"web"}:
            assert env["API_URL"] == "https://api:5000"
            assert env["KITCHEN_URL"] == "https://kitchen:5401"
        if process in {"api", "transactions"}:
            assert env["BANK_URL"] == "https://bank:5100"
    assert seen == set(SERVERS)
    for name, port in SERVERS.items():
        service = named(docs, "Service", name)
        assert service["spec"]["ports"] == [{"name": "https", "port": port, "targetPort": "https"}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_key_is_mounted_only_by_its_server_and_the_ca_key_by_no_one(
    rendered: Rendered, overlay: str
) -> None:
    docs = rendered[overlay]
    readers: dict[tuple[str, str], set[str]] = {}
    for kind in ("Deployment", "StatefulSet", "Job"):
        for workload in of_kind(docs, kind):
            for read in secret_reads(docs, workload):
                readers.setdefault(read, set()).add(workload["metadata"]["name"])
    for name in SERVERS:
        assert readers[(f"{name}-tls", "tls.key")] == {name}
        assert readers[(f"{name}-tls", "tls.crt")] == {name}
        assert (f"{name}-tls", "*") not in readers and (f"{name}-tls", "ca.crt") not in readers
    assert readers[(CA_SECRET, "ca.crt")] == CLIENTS
    assert {read for read in readers if read[0] == CA_SECRET} == {(CA_SECRET, "ca.crt")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_cert_manager_makes_a_ca_and_a_certificate_for_each_service_name(
    rendered: Rendered, overlay: str
) -> None:
    docs = rendered[overlay]
    issuers = {doc["metadata"]["name"]: doc["spec"] for doc in of_kind(docs, "Issuer")}
    certificates = {doc["metadata"]["name"]: doc["spec"] for doc in of_kind(docs, "Certificate")}
    ca = certificates[CA_SECRET]
    assert ca["isCA"] is True and ca["secretName"] == CA_SECRET
    assert "selfSigned" in issuers[ca["issuerRef"]["name"]]
    for name in SERVERS:
        spec = certificates[f"{name}-tls"]
        assert spec["secretName"] == f"{name}-tls"
        assert issuers[spec["issuerRef"]["name"]] == {"ca": {"secretName": CA_SECRET}}
        assert spec.get("isCA", False) is False
        # The names clients use: the Service's short name (API_URL, BANK_URL) and its FQDN.
        assert {name, f"{name}.{NAMESPACE}.svc", f"{name}.{NAMESPACE}.svc.cluster.local"} <= set(
            spec["dnsNames"]
        )
    for doc in of_kind(docs, "Certificate") + of_kind(docs, "Issuer"):
        assert doc["metadata"]["namespace"] == NAMESPACE


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_reaches_web_over_https_and_checks_its_certificate(
    rendered: Rendered, overlay: str
) -> None:
    ingresses = of_kind(rendered[overlay], "Ingress")
    assert ingresses
    prefix = "nginx.ingress.kubernetes.io/"
    for ingress in ingresses:
        annotations = ingress["metadata"]["annotations"]
        assert annotations[prefix + "backend-protocol"] == "HTTPS"
        assert annotations[prefix + "proxy-ssl-verify"] == "on"
        assert annotations[prefix + "proxy-ssl-secret"] == f"{NAMESPACE}/web-tls"
        assert annotations[prefix + "proxy-ssl-name"] == f"web.{NAMESPACE}.svc"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"] == {"name": "web", "port": {"name": "https"}}
