"""The production overlay takes its AWS names and ARNs from Terraform's outputs, and from
nowhere else.

deploy/k8s/terraform_outputs.py turns `terraform output -json` into
production/terraform-outputs.env; kustomize's replacements (production/outputs.yaml) put
each value in place. Here the script runs on a fixture in the shape of
`terraform output -json` (tests/deploy/fixtures/terraform-output.json), the overlay is
built, and each value is found where it belongs with no placeholder left; every output
the overlay consumes is one outputs.tf declares, from the resource it should come from;
the script refuses outputs that cannot be a real stack's; and without the file the
overlay does not build.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2
import pytest
import yaml

from .dockerfiles import REPO
from .manifests import (
    K8S,
    PROCESSES,
    TERRAFORM_OUTPUTS,
    build,
    containers,
    kubectl,
    of_kind,
    rendered,
    settings_of,
)

TERRAFORM = REPO / "deploy" / "terraform"
SCRIPT = K8S / "terraform_outputs.py"
PLACEHOLDERS = ("123456789012", "000000000000", "replace-me", "placeholder", "E2REALTYPAGES")


@cache
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("terraform_outputs", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def fixture() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(TERRAFORM_OUTPUTS.read_text())
    return loaded


def value(name: str) -> Any:
    return fixture()[name]["value"]


@cache
def declared_outputs() -> dict[str, str]:
    """outputs.tf: each output's name and its value expression."""
    with (TERRAFORM / "outputs.tf").open() as handle:
        blocks = hcl2.load(handle)["output"]
    return {name.strip('"'): str(body["value"]) for block in blocks for name, body in block.items()}


def test_every_output_the_overlay_consumes_is_declared_in_terraform() -> None:
    consumed = {c.output for c in script().CONSUMED}
    declared = declared_outputs()
    assert consumed <= set(declared), f"not in outputs.tf: {sorted(consumed - set(declared))}"
    # ... and the fixture has the shape of what `terraform output -json` prints for them.
    assert set(fixture()) == set(declared), "the fixture holds every declared output"
    assert all({"value", "type", "sensitive"} <= set(entry) for entry in fixture().values())


@pytest.mark.parametrize(
    ("output", "source"),
    [
        ("service_role_arns", "aws_iam_role.service"),
        ("public_certificate_arn", "aws_acm_certificate_validation.public.certificate_arn"),
        ("edge_web_acl_arn", "aws_wafv2_web_acl.edge.arn"),
        ("photos_bucket", 'aws_s3_bucket.data["photos"].bucket'),
        ("photos_kms_key_alias", "aws_kms_alias.photos.name"),
        ("photos_cdn_base_url", "aws_cloudfront_distribution.photos.domain_name"),
        ("pages_distribution_id", "aws_cloudfront_distribution.pages.id"),
        ("recordings_bucket", 'aws_s3_bucket.data["recordings"].bucket'),
        ("recordings_kms_key_arn", "aws_kms_key.recordings.arn"),
        ("recordings_sink_role_arn", "aws_iam_role.capture_sink.arn"),
        ("chime_events_queue_name", "aws_sqs_queue.chime_events.name"),
        ("ecr_repositories", "aws_ecr_repository.service"),
    ],
)
def test_each_consumed_output_comes_from_its_resource(output: str, source: str) -> None:
    assert source in declared_outputs()[output]


def test_the_outputs_file_and_the_replacements_name_the_same_keys() -> None:
    written = set(script().environment(fixture()))
    replacements = yaml.safe_load((K8S / "production" / "outputs.yaml").read_text())
    sources = {r["source"]["fieldPath"].removeprefix("data.") for r in replacements}
    assert all(r["source"]["name"] == "terraform-outputs" for r in replacements)
    assert written == sources, (
        f"written, not placed: {written - sources}; placed, never written: {sources - written}"
    )


def test_each_value_lands_where_it_belongs() -> None:
    docs = build("production")
    for process in PROCESSES:
        account = of_kind(docs, "ServiceAccount")[process]
        annotation = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        assert annotation == value("service_role_arns")[process]
    [ingress] = of_kind(docs, "Ingress").values()
    notes = ingress["metadata"]["annotations"]
    assert notes["alb.ingress.kubernetes.io/certificate-arn"] == value("public_certificate_arn")
    assert notes["alb.ingress.kubernetes.io/wafv2-acl-arn"] == value("edge_web_acl_arn")
    config = of_kind(docs, "ConfigMap")
    assert (
        config["listings-config"]["data"]
        | {
            "LISTINGS_PHOTOS_BUCKET": value("photos_bucket"),
            "LISTINGS_KMS_KEY_ALIAS": value("photos_kms_key_alias"),
            "LISTINGS_CDN_BASE_URL": value("photos_cdn_base_url"),
            "LISTINGS_CDN_DISTRIBUTION_ID": value("pages_distribution_id"),
        }
        == config["listings-config"]["data"]
    )
    assert (
        config["media-config"]["data"]
        | {
            "MEDIA_RECORDINGS_BUCKET": value("recordings_bucket"),
            "MEDIA_RECORDINGS_KMS_KEY": value("recordings_kms_key_arn"),
            "MEDIA_RECORDINGS_SINK_ROLE_ARN": value("recordings_sink_role_arn"),
            "MEDIA_EVENTS_QUEUE_NAME": value("chime_events_queue_name"),
        }
        == config["media-config"]["data"]
    )
    assert "terraform-outputs" not in config, "read by the replacements, never applied"
    overlay = yaml.safe_load((K8S / "production" / "kustomization.yaml").read_text())
    tags = {i["name"].split("/", 1)[1]: i["newTag"] for i in overlay["images"]}
    for name, deployment in of_kind(docs, "Deployment").items():
        for container in containers(deployment):
            repository, _, tag = container["image"].partition(":")
            assert repository == value("ecr_repositories")[name], f"{name}/{container['name']}"
            assert tag == tags[name]


def test_no_placeholder_is_left() -> None:
    text = rendered("production")
    for placeholder in PLACEHOLDERS:
        assert placeholder not in text, placeholder
    committed = [
        *(K8S / "base").rglob("*.yaml"),
        *(K8S / "production").rglob("*.yaml"),
        *(K8S / "components").rglob("*.yaml"),
        *TERRAFORM.glob("*.tf"),
    ]
    for path in committed:
        found = re.findall(r"\b\d{12}\b|replace-me", path.read_text())
        assert not found, f"{path.relative_to(REPO)}: {found}"


@pytest.mark.parametrize("process", PROCESSES)
def test_no_placeholder_reaches_a_process_in_production(process: str) -> None:
    """A development default (a documentation account's ARN, say) that production leaves
    unset would reach AWS as it is: every setting as production configures it is real."""
    settings = settings_of(process, "production")
    text = json.dumps(settings.model_dump(mode="json"))
    for placeholder in PLACEHOLDERS:
        assert placeholder not in text, f"{process}: {placeholder}"


def test_the_ingress_serves_the_hosts_the_certificate_covers() -> None:
    with (TERRAFORM / "variables.tf").open() as handle:
        blocks = hcl2.load(handle)["variable"]
    defaults = {n.strip('"'): b.get("default") for block in blocks for n, b in block.items()}
    [ingress] = of_kind(build("production"), "Ingress").values()
    [tls] = ingress["spec"]["tls"]
    domains = [d.strip('"') for d in defaults["public_domains"]]
    assert tls["hosts"] == domains
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == domains


def _run(outputs: dict[str, Any], out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        input=json.dumps(outputs),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _with(name: str, new: Any) -> dict[str, Any]:
    outputs = copy.deepcopy(fixture())
    outputs[name]["value"] = new
    return outputs


@pytest.mark.parametrize(
    ("outputs", "reason"),
    [
        ({k: v for k, v in fixture().items() if k != "edge_web_acl_arn"}, "edge_web_acl_arn"),
        (
            json.loads(TERRAFORM_OUTPUTS.read_text().replace("210987654321", "123456789012")),
            "placeholder account",
        ),
        (
            _with(
                "public_certificate_arn", value("public_certificate_arn").replace("2109", "3109")
            ),
            "accounts",
        ),
        (_with("recordings_kms_key_arn", "alias/realty-recordings"), "recordings_kms_key_arn"),
        (
            _with("service_role_arns", {"identity": value("service_role_arns")["identity"]}),
            "no role for",
        ),
        (
            {**fixture(), "photos_bucket": {**fixture()["photos_bucket"], "sensitive": True}},
            "sensitive",
        ),
    ],
    ids=["missing", "documentation-account", "two-accounts", "not-an-arn", "roles", "sensitive"],
)
def test_the_script_refuses_outputs_no_stack_has(
    outputs: dict[str, Any], reason: str, tmp_path: Path
) -> None:
    out = tmp_path / "terraform-outputs.env"
    out.write_text("KEPT=1\n")
    done = _run(outputs, out)
    assert done.returncode == 1
    assert reason in done.stderr
    assert out.read_text() == "KEPT=1\n", "a refused run leaves the file as it was"


def test_the_script_writes_what_the_fixture_says(tmp_path: Path) -> None:
    out = tmp_path / "terraform-outputs.env"
    done = _run(fixture(), out)
    assert done.returncode == 0, done.stderr
    lines = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    values = dict(line.split("=", 1) for line in lines)
    assert values["ROLE_ARN_MEDIA"] == value("service_role_arns")["media"]
    assert values["IMAGE_NAMESPACE"] == "210987654321.dkr.ecr.us-east-1.amazonaws.com/realty"


def test_production_does_not_build_without_terraforms_outputs(tmp_path: Path) -> None:
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("terraform-outputs.env"))
    done = subprocess.run(
        [kubectl(), "kustomize", str(tree / "production")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "terraform-outputs.env" in done.stderr
    ignored = (K8S / "production" / ".gitignore").read_text().splitlines()
    assert "terraform-outputs.env" in ignored, "never committed"


def test_make_deploy_config_writes_the_file_from_terraform() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^deploy-config:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "make deploy-config"
    assert "output -json" in recipe.group(1) and "deploy/k8s/terraform_outputs.py" in recipe.group(
        1
    )
