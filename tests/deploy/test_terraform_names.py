"""The production overlay names the AWS resources as Terraform makes them.

Terraform's names are resolved from its own files (variables at their defaults, the
`realty-<environment>` prefix), so renaming a bucket, queue, alias or role on one side
without the other fails here instead of at the first request in production.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "deploy" / "terraform"
K8S = ROOT / "deploy" / "k8s"


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


@cache
def variables() -> dict[str, Any]:
    with (TERRAFORM / "variables.tf").open() as handle:
        blocks = hcl2.load(handle)["variable"]
    defaults = {
        _unquote(name): body.get("default") for block in blocks for name, body in block.items()
    }
    return {name: _unquote(v) if isinstance(v, str) else v for name, v in defaults.items()}


def resolve(expression: str) -> str:
    """A Terraform string with `${var.x}` and `${local.name}` put in."""
    names = {f"var.{key}": value for key, value in variables().items() if isinstance(value, str)}
    names["local.name"] = f"realty-{variables()['environment']}"
    return re.sub(r"\$\{((?:var|local)\.[a-z_]+)\}", lambda m: names[m.group(1)], expression)


def terraform_string(file: str, pattern: str) -> str:
    """The first string in a Terraform file matching `pattern` (a regex), resolved."""
    found = re.search(pattern, (TERRAFORM / file).read_text())
    assert found, (file, pattern)
    return resolve(found.group(1))


@cache
def production_settings() -> dict[str, str]:
    settings: dict[str, str] = {}
    for document in yaml.safe_load_all((K8S / "production" / "settings.yaml").read_text()):
        if document and document.get("kind") == "ConfigMap":
            settings.update(document.get("data", {}))
    return settings


def test_names_the_services_default_to_are_terraforms() -> None:
    """What reaches the overlay through Terraform's outputs (test_terraform_outputs) is
    Terraform's by construction; what stays in settings.yaml must agree with it."""
    settings = production_settings()
    assert settings["MEDIA_BEDROCK_MODEL_ID"] == variables()["bedrock_model_id"]
    assert settings["MEDIA_RECORDINGS_PROVISION"] == "false"
    assert settings["MEDIA_MEDIA_REGION"] == variables()["region"]
    # listings creates its key under this alias in development; Terraform's is the same.
    from listings.settings import Settings as ListingsSettings
    from media.settings import Settings as MediaSettings

    assert ListingsSettings.model_fields["kms_key_alias"].default == terraform_string(
        "kms.tf", r'"aws_kms_alias" "photos" \{\s*name\s*= "([^"]+)"'
    )
    assert MediaSettings.model_fields["recordings_kms_key"].default == terraform_string(
        "kms.tf", r'"aws_kms_alias" "recordings" \{\s*name\s*= "([^"]+)"'
    )


@pytest.mark.parametrize(
    "service", ["identity", "listings", "scheduling", "media", "analytics", "gateway"]
)
def test_each_service_account_assumes_its_own_role(service: str) -> None:
    from .manifests import build, of_kind
    from .test_terraform_outputs import value

    account = of_kind(build("production"), "ServiceAccount")[service]
    # IRSA trusts system:serviceaccount:<kubernetes_namespace>:<service> only.
    assert account["metadata"]["name"] == service
    role = terraform_string("iam.tf", r'"aws_iam_role" "service" \{[^}]*?name\s*= "([^"]+)"')
    wanted = role.replace("${each.value}", service)
    arn = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert arn == value("service_role_arns")[service] and arn.endswith(f":role/{wanted}")


def test_the_overlay_runs_in_the_namespace_irsa_trusts() -> None:
    overlay = yaml.safe_load((K8S / "production" / "kustomization.yaml").read_text())
    assert overlay["namespace"] == variables()["kubernetes_namespace"]
