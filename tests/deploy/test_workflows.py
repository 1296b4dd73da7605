"""The GitHub workflows: valid for GitHub (its schema, checkov's workflow checks), the pull
request job doing what .ci/run does, and the image job pushing every image there is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.test_terraform_checkov import run_checkov

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CI, IMAGES = WORKFLOWS / "ci.yml", WORKFLOWS / "images.yml"


def load(path: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return loaded


def schema_errors(*paths: Path) -> str:
    """What the GitHub workflow schema (shipped by check-jsonschema) says; "" when valid."""
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
        + [str(path) for path in paths],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr


def steps_run(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_both_workflows_follow_githubs_schema() -> None:
    assert schema_errors(CI, IMAGES) == ""


def test_the_schema_check_refuses_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    steps:\n      - run: make\n")
    assert "runs-on" in schema_errors(broken)


def test_checkov_finds_nothing_in_the_workflows() -> None:
    (report,) = run_checkov(
        "--file", str(CI), "--file", str(IMAGES), "--framework", "github_actions"
    )
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0
    assert report["results"]["failed_checks"] == []


@pytest.mark.parametrize("path", [CI, IMAGES], ids=lambda p: p.name)
def test_the_token_can_only_read_by_default(path: Path) -> None:
    assert load(path)["permissions"] == {"contents": "read"}


def test_pull_requests_run_the_steps_of_ci_run_in_order() -> None:
    workflow = load(CI)
    assert set(workflow["on"]) == {"pull_request"}
    (job,) = workflow["jobs"].values()
    wanted = re.findall(r"^make (\w+)$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)
    assert wanted == ["install", "lint", "test"]
    ran = [command.strip() for command in steps_run(job) if command.strip().startswith("make ")]
    assert ran == [f"make {target}" for target in wanted]


def test_pull_requests_get_the_servers_the_tests_use() -> None:
    (job,) = load(CI)["jobs"].values()
    services = job["services"]
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"].startswith("redis:")
    assert any("nats" in command and " -js" in command for command in steps_run(job))
    assert job["env"]["TEST_DATABASE_URL"].startswith("postgresql://postgres@127.0.0.1:5432/")
    assert job["env"]["NATS_URL"] == "nats://127.0.0.1:4222"


def test_main_pushes_every_image_the_repository_builds() -> None:
    workflow = load(IMAGES)
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    (job,) = workflow["jobs"].values()
    assert job["permissions"]["id-token"] == "write"  # OIDC, no stored AWS keys
    matrix = {entry["name"]: entry["dockerfile"] for entry in job["strategy"]["matrix"]["include"]}
    dockerfiles = sorted(
        str(path.relative_to(ROOT))
        for path in [
            *ROOT.glob("services/*/Dockerfile"),
            *ROOT.glob("libs/*/Dockerfile"),
            ROOT / "gateway" / "Dockerfile",
        ]
    )
    assert sorted(matrix.values()) == dockerfiles
    for name, dockerfile in matrix.items():
        assert Path(dockerfile).parent.name == name
    # One ECR repository per image: terraform's local.images, the services and the rest.
    terraform = (ROOT / "deploy" / "terraform" / "versions.tf").read_text()
    services = re.search(r"services\s*=\s*\[([^\]]*)\]", terraform)
    images = re.search(r"images\s*=\s*concat\(local\.services,\s*\[([^\]]*)\]\)", terraform)
    assert services is not None and images is not None
    repositories = re.findall(r'"(\w+)"', services.group(1) + images.group(1))
    assert sorted(matrix) == sorted(repositories)
    registry = (ROOT / "deploy" / "terraform" / "registry.tf").read_text()
    assert "for_each             = toset(local.images)" in registry
    uses = [step.get("uses", "") for step in job["steps"]]
    assert any(use.startswith("aws-actions/configure-aws-credentials@") for use in uses)
    push = next(step for step in job["steps"] if step.get("uses", "").startswith("docker/build"))
    assert push["with"]["push"] is True
    assert push["with"]["tags"].endswith(":${{ github.sha }}")
