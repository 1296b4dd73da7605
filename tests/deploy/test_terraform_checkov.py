"""checkov over deploy/terraform: no failed check, and every skipped one says why.

terraform itself cannot be installed here, so the configuration is checked offline:
checkov parses it and applies its AWS policies; a check the design rejects is skipped
where it applies, with `#checkov:skip=<id>:<reason>` — never by a global list.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "deploy" / "terraform"


def checkov_binary() -> str:
    """checkov from its own environment (`make install` puts it in .tools/checkov)."""
    installed = ROOT / ".tools" / "checkov" / "bin" / "checkov"
    found = str(installed) if installed.exists() else shutil.which("checkov")
    assert found, "checkov is missing: `make install` puts it in .tools/checkov"
    return found


def run_checkov(*args: str) -> list[dict[str, Any]]:
    """checkov's JSON reports (one per framework) for the given targets."""
    done = subprocess.run(
        [checkov_binary(), *args, "--output", "json", "--compact"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.stdout.strip(), done.stderr[-2000:]
    reports = json.loads(done.stdout)
    return reports if isinstance(reports, list) else [reports]


@cache
def terraform_report() -> dict[str, Any]:
    (report,) = run_checkov("--directory", str(TERRAFORM), "--framework", "terraform")
    return report


def test_the_terraform_is_parsed_whole() -> None:
    summary = terraform_report()["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] >= 100  # every file was read, not an empty folder
    assert summary["passed"] > 0


def test_no_check_fails() -> None:
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for check in terraform_report()["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)


def test_every_skipped_check_has_a_reason() -> None:
    for check in terraform_report()["results"]["skipped_checks"]:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason.strip()) > 10, (check["check_id"], check["resource"])
