"""Where the deployment checks find their tools (installed by deploy/install-check-tools.sh)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TOOLS_BIN = ROOT / "var" / "tools" / "bin"
INSTALL_HINT = "run deploy/install-check-tools.sh"


def tool(name: str) -> str | None:
    """The tool installed by the install script, else one on PATH, else None."""
    local = TOOLS_BIN / name
    if local.is_file():
        return str(local)
    return shutil.which(name)


def kustomize_command() -> list[str] | None:
    """argv prefix that renders a kustomization: kustomize v5 itself or `kubectl kustomize`."""
    kustomize = tool("kustomize")
    if kustomize:
        return [kustomize, "build"]
    kubectl = shutil.which("kubectl")
    if kubectl:
        version = subprocess.run(
            [kubectl, "version", "--client"], capture_output=True, text=True, check=False
        ).stdout
        if "Kustomize Version: v5" in version:
            return [kubectl, "kustomize"]
    return None


# The Minikube overlay's per-credential secret files (deploy/README.md, "Secrets: who reads
# what"), with the keys each holds: what deploy/make-secrets.sh must write besides secrets.env.
MINIKUBE_DATABASES = ("api", "bank", "mailer")
MINIKUBE_BANK_CALLERS = ("api", "transactions", "operator")
MINIKUBE_SECRET_FILES = {
    **{f"secrets/{db}-database.env": ("url", "password") for db in MINIKUBE_DATABASES},
    **{f"secrets/bank-caller-{caller}.env": ("key",) for caller in MINIKUBE_BANK_CALLERS},
}


def minikube_secret_values() -> dict[str, dict[str, str]]:
    """Random values for every per-credential file, as make-secrets.sh is to write them."""
    import secrets

    values: dict[str, dict[str, str]] = {}
    for db in MINIKUBE_DATABASES:
        password = secrets.token_hex(18)
        values[f"secrets/{db}-database.env"] = {
            "url": f"postgresql+psycopg://{db}:{password}@postgres:5432/{db}",
            "password": password,
        }
    for caller in MINIKUBE_BANK_CALLERS:
        values[f"secrets/bank-caller-{caller}.env"] = {"key": secrets.token_hex(32)}
    return values


def write_missing_minikube_secrets(overlay: Path) -> list[str]:
    """Write each per-credential file of the Minikube overlay that does not exist yet (owner
    only); returns the ones written. For the checks, until make-secrets.sh writes them all."""
    written = []
    for name, values in minikube_secret_values().items():
        path = overlay / name
        if path.exists():
            continue
        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
        path.chmod(0o600)
        written.append(name)
    return written
