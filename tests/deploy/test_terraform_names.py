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


def test_buckets_keys_queue_and_roles_match() -> None:
    settings = production_settings()
    assert settings["LISTINGS_PHOTOS_BUCKET"] == terraform_string(
        "storage.tf", r'photos = \{\s*name = "([^"]+)"'
    )
    assert settings["MEDIA_RECORDINGS_BUCKET"] == terraform_string(
        "storage.tf", r'recordings = \{\s*name = "([^"]+)"'
    )
    assert settings["LISTINGS_KMS_KEY_ALIAS"] == terraform_string(
        "kms.tf", r'"aws_kms_alias" "photos" \{\s*name\s*= "([^"]+)"'
    )
    assert settings["MEDIA_RECORDINGS_KMS_KEY"] == terraform_string(
        "kms.tf", r'"aws_kms_alias" "recordings" \{\s*name\s*= "([^"]+)"'
    )
    assert settings["MEDIA_EVENTS_QUEUE_NAME"] == terraform_string(
        "events.tf", r'"aws_sqs_queue" "chime_events" \{\s*name\s*= "([^"]+)"'
    )
    sink_role = terraform_string(
        "storage.tf", r'"aws_iam_role" "capture_sink" \{\s*name\s*= "([^"]+)"'
    )
    assert settings["MEDIA_RECORDINGS_SINK_ROLE_ARN"].endswith(f":role/{sink_role}")
    assert settings["MEDIA_BEDROCK_MODEL_ID"] == variables()["bedrock_model_id"]
    assert settings["LISTINGS_CDN_BASE_URL"] == f"https://{variables()['photos_domain']}"
    assert settings["MEDIA_RECORDINGS_PROVISION"] == "false"


@pytest.mark.parametrize(
    "service", ["identity", "listings", "scheduling", "media", "analytics", "gateway"]
)
def test_each_service_account_assumes_its_own_role(service: str) -> None:
    documents = yaml.safe_load_all((K8S / "base" / service / "service.yaml").read_text())
    (account,) = [d for d in documents if d and d.get("kind") == "ServiceAccount"]
    # IRSA trusts system:serviceaccount:<kubernetes_namespace>:<service> only.
    assert account["metadata"]["name"] == service
    role = terraform_string("iam.tf", r'"aws_iam_role" "service" \{[^}]*?name\s*= "([^"]+)"')
    wanted = role.replace("${each.value}", service)
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        f":role/{wanted}"
    )


def test_the_overlay_runs_in_the_namespace_irsa_trusts() -> None:
    overlay = yaml.safe_load((K8S / "production" / "kustomization.yaml").read_text())
    assert overlay["namespace"] == variables()["kubernetes_namespace"]
