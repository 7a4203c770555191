"""A real Kubernetes API server on loopback: etcd and kube-apiserver, no kubelet or controllers.

Every object sent to it goes through the real validation, defaulting, CRD schemas and admission
(Pod Security Admission included) that a cluster applies, so `kubectl apply --dry-run=server`
answers what a cluster would. The binaries come from deploy/kube/build-apiserver.sh.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.deploy.tools import DEPLOY
from tests.fixtures.components import free_port, wait_for

K8S_VERSION = "v1.32.13"
KUBE_CACHE = Path.home() / ".cache" / "kafka-restaurants" / f"kube-{K8S_VERSION}"
BUILD_SCRIPT = DEPLOY / "kube" / "build-apiserver.sh"
BUILD_TIMEOUT = 30 * 60  # about 7 minutes cold on two cores; seconds when cached


def build_binaries() -> None:
    """Build (or find cached) kube-apiserver, etcd and, when the machine has none, kubectl."""
    env = {**os.environ, "K8S_VERSION": K8S_VERSION, "KUBE_CACHE": str(KUBE_CACHE)}
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{BUILD_SCRIPT} failed:\n{output}"


def kubectl_binary() -> str:
    """The kubectl the build script made, else the machine's."""
    built = KUBE_CACHE / "bin" / "kubectl"
    found = str(built) if built.is_file() else shutil.which("kubectl")
    assert found, "no kubectl: deploy/kube/build-apiserver.sh builds one when the machine has none"
    return found


@dataclass(frozen=True)
class Kubectl:
    """kubectl bound to one API server through its kubeconfig."""

    binary: str
    kubeconfig: Path

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run kubectl; the caller checks the return code and reads stdout and stderr."""
        return subprocess.run(
            [self.binary, f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        """Run kubectl and return its stdout; fail with its stderr when it fails."""
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stderr}"
        return result.stdout


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(pki: Path) -> str:
    """A CA, a serving certificate for 127.0.0.1, service-account keys; returns an admin token."""
    pki.mkdir(parents=True)
    days = "30"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.crt", "-days", days, "-subj", "/CN=test-ca", cwd=pki)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "apiserver.key", "-out",
             "apiserver.csr", "-subj", "/CN=kube-apiserver", cwd=pki)  # fmt: skip
    (pki / "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    )
    _openssl("x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "apiserver.crt", "-days", days, "-extfile", "san.ext",
             cwd=pki)  # fmt: skip
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    token = secrets.token_hex(24)
    # A static token for a member of system:masters: cluster-admin through RBAC's bootstrap policy.
    (pki / "tokens.csv").write_text(f"{token},admin,admin-uid,system:masters\n")
    return token


def write_kubeconfig(path: Path, server: str, ca: Path, token: str) -> None:
    """A kubeconfig with one cluster, one user (the static token) and one context."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "test", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config))


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _log_tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-30:])


@contextlib.contextmanager
def running_apiserver(root: Path) -> Iterator[Kubectl]:
    """etcd and kube-apiserver on free loopback ports under `root`, ready; stopped on exit."""
    token = make_pki(root / "pki")
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    etcd_url, peer_url = f"http://127.0.0.1:{etcd_port}", f"http://127.0.0.1:{peer_port}"
    etcd_log = (root / "etcd.log").open("wb")
    etcd = subprocess.Popen(
        [str(KUBE_CACHE / "etcd" / "usr" / "bin" / "etcd"), "--name", "test",
         "--data-dir", str(root / "etcd-data"),
         "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
         "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
         "--initial-cluster", f"test={peer_url}"],
        stdout=etcd_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    pki = root / "pki"
    apiserver_log = (root / "apiserver.log").open("wb")
    apiserver = subprocess.Popen(
        [str(KUBE_CACHE / "bin" / "kube-apiserver"),
         f"--etcd-servers={etcd_url}",
         "--bind-address=127.0.0.1", f"--secure-port={api_port}", "--advertise-address=127.0.0.1",
         f"--tls-cert-file={pki / 'apiserver.crt'}",
         f"--tls-private-key-file={pki / 'apiserver.key'}",
         f"--client-ca-file={pki / 'ca.crt'}",
         f"--token-auth-file={pki / 'tokens.csv'}",
         "--authorization-mode=RBAC", "--anonymous-auth=false",
         "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
         f"--service-account-key-file={pki / 'sa.pub'}",
         f"--service-account-signing-key-file={pki / 'sa.key'}",
         # Loopback is not a valid service range; this one is never routed, only allocated from.
         "--service-cluster-ip-range=10.0.0.0/24",
         "--endpoint-reconciler-type=none", "--profiling=false"],
        stdout=apiserver_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    kubeconfig = root / "kubeconfig"
    write_kubeconfig(kubeconfig, f"https://127.0.0.1:{api_port}", pki / "ca.crt", token)
    kubectl = Kubectl(kubectl_binary(), kubeconfig)
    try:

        def ready() -> bool:
            assert apiserver.poll() is None, _log_tail(root / "apiserver.log")
            assert etcd.poll() is None, _log_tail(root / "etcd.log")
            # The default namespace comes from the server's own bootstrap, after /readyz.
            return kubectl.run("get", "namespace", "default").returncode == 0

        wait_for(ready, timeout=120, interval=0.5, what="kube-apiserver ready")
        yield kubectl
    finally:
        _stop(apiserver)
        _stop(etcd)
        etcd_log.close()
        apiserver_log.close()


def install_crds(kubectl: Kubectl, crd_dir: Path) -> list[str]:
    """Install every CRD under `crd_dir` (server-side: Strimzi's is too big for client-side)."""
    files = sorted(path for path in crd_dir.rglob("*.yaml"))
    names = []
    for path in files:
        kubectl.ok("apply", "--server-side", "-f", str(path))
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                names.append(doc["metadata"]["name"])
    kubectl.ok("wait", "--for=condition=Established", "--timeout=60s",
               *[f"crd/{name}" for name in names])  # fmt: skip
    # Established CRDs can take a moment to show in discovery ("no matches for kind").
    wait_for(
        lambda: kubectl.run("get", "kafkas.kafka.strimzi.io", "-A").returncode == 0,
        timeout=30,
        what="the CRDs' resources in discovery",
    )
    return names
