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
