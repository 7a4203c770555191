"""checkov finds nothing on the rendered manifests and the Dockerfile that is not justified.

Skips are per resource, as `checkov.io/skipN: CHECK=reason` annotations in the manifests.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.deploy.tools import INSTALL_HINT, ROOT, tool
from tests.fixtures.components import require


def _checkov(*args: str) -> list[dict[str, Any]]:
    checkov = tool("checkov")
    require(checkov is not None, f"checkov ({INSTALL_HINT})")
    assert checkov is not None
    # No network: checkov would otherwise fetch guidelines from its vendor's API.
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        [checkov, *args, "--compact", "--quiet", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.stdout.strip(), result.stderr
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def _failures(reports: list[dict[str, Any]]) -> list[str]:
    return [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]


def test_rendered_manifests_pass_checkov(rendered_files: dict[str, Path]) -> None:
    for overlay, path in rendered_files.items():
        reports = _checkov("-f", str(path), "--framework", "kubernetes")
        assert reports[0]["summary"]["parsing_errors"] == 0, overlay
        assert reports[0]["summary"]["passed"] > 100, f"{overlay}: checkov checked nothing?"
        failures = _failures(reports)
        assert not failures, f"{overlay}:\n" + "\n".join(failures)
        for report in reports:
            for skipped in report.get("results", {}).get("skipped_checks", []):
                assert skipped.get("suppress_comment"), f"unjustified skip {skipped['check_id']}"


def test_dockerfile_passes_checkov() -> None:
    reports = _checkov("-f", str(ROOT / "Dockerfile"), "--framework", "dockerfile")
    assert reports[0]["summary"]["passed"] > 0
    failures = _failures(reports)
    assert not failures, "\n".join(failures)
