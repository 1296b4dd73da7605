"""Turn `terraform output -json` into the file the production overlay reads its AWS names
and ARNs from, so nothing in the overlay is typed in by hand or stands in for an account.

    terraform -chdir=deploy/terraform output -json | python deploy/k8s/terraform_outputs.py

(`make deploy-config`) writes deploy/k8s/production/terraform-outputs.env, one KEY=value
a line. kustomize makes it the local-only ConfigMap `terraform-outputs` and its
`replacements` (production/outputs.yaml) put each value where it belongs: the IRSA role
of every ServiceAccount, the ALB's certificate and WAF web ACL, the buckets, keys, queue
and sink role in the services' ConfigMaps, and the ECR registry in front of every image.

The file is refused, and nothing written, when an output is missing, malformed or from a
documentation account; without it the overlay does not build at all, so production is
never applied with made-up values. Standard library only: it runs before any install.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "production" / "terraform-outputs.env"
# The processes with an IRSA role, and the images production runs (ECR repositories).
PROCESSES = ("identity", "listings", "scheduling", "media", "analytics", "gateway")
# AWS's documentation account and an all-zero one: never a real stack's.
PLACEHOLDER_ACCOUNTS = frozenset({"123456789012", "000000000000"})

PARTITION = r"arn:aws(?:-[a-z]+)*"
REGION = r"[a-z]{2}(?:-[a-z]+)+-\d"
ROLE = re.compile(rf"{PARTITION}:iam::(\d{{12}}):role/[\w+=,.@/-]+")
CERTIFICATE = re.compile(rf"{PARTITION}:acm:{REGION}:(\d{{12}}):certificate/[0-9a-f-]{{36}}")
WEB_ACL = re.compile(
    rf"{PARTITION}:wafv2:{REGION}:(\d{{12}}):regional/webacl/[\w-]+/[0-9a-f-]{{36}}"
)
KMS_KEY = re.compile(rf"{PARTITION}:kms:{REGION}:(\d{{12}}):key/[0-9a-f-]{{36}}")
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
ALIAS = re.compile(r"alias/[\w/-]+")
QUEUE = re.compile(r"[\w-]{1,80}")
DISTRIBUTION = re.compile(r"E[A-Z0-9]{6,}")
HTTPS_URL = re.compile(r"https://[a-z0-9.-]+")
ACCOUNT = re.compile(r"arn:[^:]+:[^:]+:[^:]*:(\d{12}):|(\d{12})\.dkr\.ecr\.")
REPOSITORY = re.compile(r"(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/realty/[a-z0-9-]+")


class OutputError(ValueError):
    """Terraform's outputs cannot configure the overlay (named output and why)."""


@dataclass(frozen=True, slots=True)
class Consumed:
    """One Terraform output the overlay consumes: the keys it becomes in the env file."""

    output: str
    keys: Callable[[Any], dict[str, str]]


def _string(output: str, pattern: re.Pattern[str]) -> Callable[[Any], dict[str, str]]:
    """An output holding one string of the given shape, as key <OUTPUT in upper case>."""

    def keys(value: Any) -> dict[str, str]:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise OutputError(f"{output}: {value!r} is not a {pattern.pattern}")
        return {output.upper(): value}

    return keys


def _roles(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise OutputError(f"service_role_arns: {value!r} is not a map")
    missing = set(PROCESSES) - set(value)
    if missing:
        raise OutputError(f"service_role_arns: no role for {sorted(missing)}")
    found: dict[str, str] = {}
    for process in PROCESSES:
        found |= _string(f"role_arn_{process}", ROLE)(value[process])
    return found


def _registry(value: Any) -> dict[str, str]:
    """`ecr_repositories` (image -> repository URL) as the one namespace every image is
    pushed under: `<account>.dkr.ecr.<region>.amazonaws.com/realty`."""
    if not isinstance(value, dict):
        raise OutputError(f"ecr_repositories: {value!r} is not a map")
    missing = set(PROCESSES) - set(value)
    if missing:
        raise OutputError(f"ecr_repositories: no repository for {sorted(missing)}")
    namespaces = set()
    for name, url in value.items():
        if not isinstance(url, str) or not REPOSITORY.fullmatch(url):
            raise OutputError(f"ecr_repositories.{name}: {url!r} is not an ECR repository URL")
        namespace, _, image = url.rpartition("/")
        if image != name:
            raise OutputError(f"ecr_repositories.{name}: {url!r} names another image")
        namespaces.add(namespace)
    if len(namespaces) != 1:
        raise OutputError(f"ecr_repositories: more than one registry ({sorted(namespaces)})")
    return {"IMAGE_NAMESPACE": namespaces.pop()}


CONSUMED: tuple[Consumed, ...] = (
    Consumed("service_role_arns", _roles),
    Consumed("public_certificate_arn", _string("public_certificate_arn", CERTIFICATE)),
    Consumed("edge_web_acl_arn", _string("edge_web_acl_arn", WEB_ACL)),
    Consumed("photos_bucket", _string("photos_bucket", BUCKET)),
    Consumed("photos_kms_key_alias", _string("photos_kms_key_alias", ALIAS)),
    Consumed("photos_cdn_base_url", _string("photos_cdn_base_url", HTTPS_URL)),
    Consumed("pages_distribution_id", _string("pages_distribution_id", DISTRIBUTION)),
    Consumed("recordings_bucket", _string("recordings_bucket", BUCKET)),
    Consumed("recordings_kms_key_arn", _string("recordings_kms_key_arn", KMS_KEY)),
    Consumed("recordings_sink_role_arn", _string("recordings_sink_role_arn", ROLE)),
    Consumed("chime_events_queue_name", _string("chime_events_queue_name", QUEUE)),
    Consumed("ecr_repositories", _registry),
)


def accounts(values: Mapping[str, str]) -> set[str]:
    """Every AWS account number the values name (ARNs and the registry's host)."""
    found: set[str] = set()
    for value in values.values():
        match = ACCOUNT.match(value)
        if match:
            found.add(match.group(1) or match.group(2))
    return found


def environment(outputs: Mapping[str, Any]) -> dict[str, str]:
    """The env file's keys and values from `terraform output -json`'s object (each output
    `{"value": ..., "type": ..., "sensitive": ...}`)."""
    values: dict[str, str] = {}
    for consumed in CONSUMED:
        if consumed.output not in outputs:
            raise OutputError(f"{consumed.output}: not among Terraform's outputs (applied?)")
        entry = outputs[consumed.output]
        if not isinstance(entry, dict) or "value" not in entry:
            raise OutputError(f"{consumed.output}: not in `terraform output -json`'s shape")
        if entry.get("sensitive"):
            raise OutputError(f"{consumed.output}: sensitive outputs never go into manifests")
        values |= consumed.keys(entry["value"])
    found = accounts(values)
    if found & PLACEHOLDER_ACCOUNTS:
        raise OutputError(f"placeholder account {sorted(found & PLACEHOLDER_ACCOUNTS)}")
    if len(found) != 1:
        raise OutputError(f"the outputs name {len(found)} accounts ({sorted(found)}), not one")
    return values


def render(values: Mapping[str, str]) -> str:
    lines = ["# Written by deploy/k8s/terraform_outputs.py from `terraform output -json`."]
    lines += [f"{key}={value}" for key, value in sorted(values.items())]
    return "\n".join(lines) + "\n"


def write(text: str, out: Path) -> None:
    """Replace `out` whole or not at all."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, out)
    except BaseException:
        os.unlink(temporary)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default="-", help="terraform output -json (default: stdin)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    arguments = parser.parse_args(argv)
    source = sys.stdin.read() if arguments.json == "-" else Path(arguments.json).read_text()
    try:
        values = environment(json.loads(source))
    except (OutputError, json.JSONDecodeError) as error:
        print(f"terraform outputs refused: {error}", file=sys.stderr)
        return 1
    write(render(values), arguments.out)
    print(f"wrote {len(values)} values to {arguments.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
