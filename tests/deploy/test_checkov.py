"""checkov passes over the built manifests of every overlay and over every Dockerfile.

One checkov process reads both overlays (as `kubectl kustomize` renders them) and a copy of
each image's Dockerfile, so its start-up (several seconds) is paid once. A check may be
skipped only by a `checkov.io/skipN` annotation on the object with its reason; such
skips are listed here by id, so a new one is a decision this file records.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .dockerfiles import REPO, images, workspace_members
from .manifests import OVERLAYS, rendered

CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"
# Every skip the manifests declare, and why (the reasons are on the objects themselves).
JUSTIFIED = {
    "CKV_K8S_43",  # images by digest: the manifests name tags, CI deploys by digest
    "CKV_K8S_35",  # settings are environment variables by design (pydantic-settings)
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    if not CHECKOV.is_file():
        pytest.skip("checkov is installed by `make install` into .tools/checkov")
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: the Kubernetes manifests cannot be built here")
    root = tmp_path_factory.mktemp("checkov")
    for overlay in OVERLAYS:
        (root / f"{overlay}.yaml").write_text(rendered(overlay))
    for name, member in images(workspace_members()).items():
        (root / name).mkdir()
        shutil.copy(member.directory / "Dockerfile", root / name / "Dockerfile")
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(root),
            "--framework",
            "kubernetes",
            "dockerfile",
            "--output",
            "json",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root), "LOG_LEVEL": "WARNING"},
        cwd=root,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    parsed = json.loads(result.stdout)
    return parsed if isinstance(parsed, list) else [parsed]


def by_framework(report: list[dict[str, Any]], framework: str) -> dict[str, Any]:
    [found] = [r for r in report if r["check_type"] == framework]
    return found


@pytest.mark.parametrize("framework", ["kubernetes", "dockerfile"])
def test_checkov_finds_no_failed_check(report: list[dict[str, Any]], framework: str) -> None:
    results = by_framework(report, framework)
    assert results["summary"]["parsing_errors"] == 0
    assert results["summary"]["resource_count"] > 0
    failed = [
        f"{c['check_id']} {c['resource']} ({c['check_name']})"
        for c in results["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)


def test_every_skipped_check_is_one_justified_here(report: list[dict[str, Any]]) -> None:
    skipped = {
        c["check_id"]
        for r in report
        for c in r["results"]["skipped_checks"]
        if c.get("check_result", {}).get("suppress_comment")
    }
    assert skipped <= JUSTIFIED, sorted(skipped - JUSTIFIED)
    unexplained = [
        c["check_id"]
        for r in report
        for c in r["results"]["skipped_checks"]
        if len(c.get("check_result", {}).get("suppress_comment", "")) < 20
    ]
    assert not unexplained, f"a skip without its reason: {unexplained}"


def test_checkov_reads_each_dockerfile(report: list[dict[str, Any]]) -> None:
    results = by_framework(report, "dockerfile")
    files = {Path(c["file_path"]).parent.name for c in results["results"]["passed_checks"]}
    assert files == set(images(workspace_members()))
