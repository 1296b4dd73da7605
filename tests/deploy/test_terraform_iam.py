"""Each service's IAM role allows exactly the AWS operations its code calls, no more, no less.

The calls are read from the source: every `boto3.client("<service>")` a module binds to a
name or attribute, then every method reached through that binding (called directly, handed
to a worker thread, named in `get_paginator`/`generate_presigned_url`). botocore's own
service models turn a method into its operation and its IAM prefix (the signing name:
`chime-sdk-meetings` signs as `chime`, `sesv2` as `ses`); the few operations whose IAM
action has another name are listed below. The policies are read from
deploy/terraform/iam.tf (`data "aws_iam_policy_document" "irsa_<service>"`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import hcl2
import pytest
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[2]
IAM_TF = ROOT / "deploy" / "terraform" / "iam.tf"
SERVICES = ("identity", "listings", "scheduling", "media", "analytics", "gateway")
SHARED_MAIL = ROOT / "libs" / "servicekit" / "servicekit" / "mail.py"

# Operations whose IAM action is named differently (Service Authorization Reference).
IAM_NAMES = {
    "s3:HeadObject": "s3:GetObject",
    "s3:DeleteObjects": "s3:DeleteObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketCors": "s3:PutBucketCORS",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "bedrock:Converse": "bedrock:InvokeModel",
    "bedrock:ConverseStream": "bedrock:InvokeModelWithResponseStream",
}

# What an operation needs besides its own action. Every bucket and queue is SSE-KMS under
# a customer-managed key: writing an object needs a data key, reading one (or a queued
# message) needs it decrypted. A capture pipeline is created only after Chime has read the
# sink bucket's policy as the caller, and with the sink role handed over (Chime SDK
# Developer Guide: media pipelines; SSE-KMS with SinkIamRoleArn).
IMPLIED = {
    "s3:PutObject": {"kms:GenerateDataKey"},
    "s3:GetObject": {"kms:Decrypt"},
    "sqs:ReceiveMessage": {"kms:Decrypt"},
    "chime:CreateMediaCapturePipeline": {"s3:GetBucketPolicy", "iam:PassRole"},
}

# Calls a service makes only to create what is missing (development against moto), which
# Terraform creates in production, so no role is allowed them. listings makes its photo
# key only when the alias does not resolve (the alias is Terraform's); media creates and
# configures its bucket and key only with MEDIA_RECORDINGS_PROVISION, off in production.
PROVISIONING_ONLY: dict[str, set[str]] = {
    "listings": {"kms:CreateKey", "kms:CreateAlias", "kms:ScheduleKeyDeletion"},
    "media": {
        "kms:CreateKey",
        "kms:CreateAlias",
        "kms:ScheduleKeyDeletion",
        "s3:CreateBucket",
        "s3:PutEncryptionConfiguration",
        "s3:PutBucketPublicAccessBlock",
    },
}


@cache
def _models() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def _operations(client_name: str) -> tuple[str, dict[str, str]]:
    """The IAM prefix of a boto3 client and its methods' operation names."""
    model = _models().get_service_model(client_name)
    return model.signing_name, {xform_name(op): op for op in model.operation_names}


def _client_service(node: ast.AST, constants: dict[str, str]) -> str | None:
    """`"s3"` for an expression containing `boto3.client("s3", ...)`; the service may also
    be a class attribute (`boto3.client(self.service)` with `service = "s3"` in the class)."""
    for inner in ast.walk(node):
        if (
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Attribute)
            and inner.func.attr == "client"
            and isinstance(inner.func.value, ast.Name)
            and inner.func.value.id == "boto3"
            and inner.args
        ):
            first = inner.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                return first.value
            if isinstance(first, ast.Attribute) and first.attr in constants:
                return constants[first.attr]
    return None


def _bound_name(target: ast.expr) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


def _class_constants(cls: ast.ClassDef) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in cls.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _bindings(scope: ast.AST, constants: dict[str, str]) -> dict[str, str]:
    """Names and attributes a scope binds to a boto3 client, with the client's service."""
    found: dict[str, str] = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            service = _client_service(node.value, constants)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                name = _bound_name(target)
                if service and name:
                    found[name] = service
    return found


def _scopes(tree: ast.Module) -> Iterator[tuple[ast.AST, dict[str, str]]]:
    """The module, and each class with the service its (inherited) client is made for.

    A base class may make the client from a class attribute its subclasses set; each
    subclass is then its own scope, with its own service, over the base's binding."""
    classes = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    yield tree, {}
    for cls in classes.values():
        constants: dict[str, str] = {}
        lineage = [cls]
        while lineage[-1].bases and isinstance(lineage[-1].bases[0], ast.Name):
            parent = classes.get(lineage[-1].bases[0].id)
            if parent is None or parent in lineage:
                break
            lineage.append(parent)
        for ancestor in reversed(lineage):
            constants |= _class_constants(ancestor)
        bindings: dict[str, str] = {}
        for ancestor in reversed(lineage):
            bindings |= _bindings(ancestor, constants)
        if bindings:
            yield cls, bindings


def _first_string(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def _reached(scope: ast.AST, bindings: dict[str, str]) -> set[str]:
    parents = {child: node for node in ast.walk(scope) for child in ast.iter_child_nodes(node)}
    actions: set[str] = set()
    for node in ast.walk(scope):
        if not isinstance(node, ast.Attribute):
            continue
        base = _bound_name(node.value)
        if base not in bindings:
            continue
        prefix, operations = _operations(bindings[base])
        method = node.attr
        call = parents.get(node)
        if method in ("get_paginator", "generate_presigned_url") and isinstance(call, ast.Call):
            method = _first_string(call) or method
        elif method == "generate_presigned_post":
            method = "put_object"  # the browser's POST is a PutObject signed by this role
        if method in operations:
            action = f"{prefix}:{operations[method]}"
            actions.add(IAM_NAMES.get(action, action))
    return actions


def calls_in(tree: ast.Module) -> set[str]:
    """`service:Operation` for every client method a module reaches."""
    actions: set[str] = set()
    for scope, bindings in _scopes(tree):
        if scope is tree:
            bindings = _bindings(tree, {})
        actions |= _reached(scope, bindings)
    return actions


def _reaches_shared_mailer(tree: ast.AST) -> bool:
    """Whether code sends through the shared kernel's mailer (`<...>.mailer.send(...)`)."""
    return any(
        isinstance(node, ast.Attribute)
        and node.attr == "send"
        and _bound_name(node.value) == "mailer"
        for node in ast.walk(tree)
    )


def _package(service: str) -> Path:
    return (
        ROOT / service / service if service == "gateway" else ROOT / "services" / service / service
    )


def _sources(service: str) -> Iterator[ast.Module]:
    for path in sorted(_package(service).rglob("*.py")):
        yield ast.parse(path.read_text(), filename=str(path))


@cache
def code_actions(service: str) -> frozenset[str]:
    """The IAM actions a service's code needs, key use included, provisioning apart."""
    actions: set[str] = set()
    for tree in _sources(service):
        actions |= calls_in(tree)
        if _reaches_shared_mailer(tree):
            actions |= calls_in(ast.parse(SHARED_MAIL.read_text()))
    for action in list(actions):
        actions |= IMPLIED.get(action, set())
    return frozenset(actions)


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def _terraform() -> dict[str, Any]:
    with IAM_TF.open() as handle:
        loaded: dict[str, Any] = hcl2.load(handle)
    return loaded


def policy_documents() -> dict[str, list[dict[str, Any]]]:
    """Statements of each `irsa_<service>` policy document."""
    documents: dict[str, list[dict[str, Any]]] = {}
    for block in _terraform()["data"]:
        for kind, named in block.items():
            if _unquote(kind) != "aws_iam_policy_document":
                continue
            for name, body in named.items():
                name = _unquote(name)
                if name.startswith("irsa_") and name != "irsa_trust":
                    documents[name.removeprefix("irsa_")] = body["statement"]
    return documents


def policy_actions(service: str) -> set[str]:
    statements = policy_documents().get(service, [])
    for statement in statements:
        assert _unquote(statement.get("effect", '"Allow"')) == "Allow", statement
    return {_unquote(action) for statement in statements for action in statement["actions"]}


def attached_policies() -> dict[str, str]:
    """`local.service_policies`: which document each role carries."""
    for block in _terraform()["locals"]:
        if "service_policies" in block:
            return {name: str(ref) for name, ref in block["service_policies"].items()}
    raise AssertionError("iam.tf has no local.service_policies")


def test_the_scan_reads_calls_the_way_the_code_makes_them() -> None:
    """Direct calls, methods handed to a thread, paginators and presigned requests."""
    source = """
import boto3
class Store:
    def __init__(self, client=None):
        self._s3 = client or boto3.client("s3")
        self.other = object()
    async def run(self):
        await asyncio.to_thread(self._s3.head_object, Bucket="b", Key="k")
        self._s3.get_paginator("list_objects_v2")
        self._s3.generate_presigned_url("get_object", Params={})
        self._s3.generate_presigned_post(Bucket="b", Key="k")
        self.other.delete_bucket()
class Base:
    service = ""
    def __init__(self):
        self._client = boto3.client(self.service)
class Meetings(Base):
    service = "chime-sdk-meetings"
    def start(self):
        return self._client.create_meeting
def mail():
    ses = boto3.client("sesv2")
    ses.send_email(Content={})
"""
    assert calls_in(ast.parse(source)) == {
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "ses:SendEmail",
        "chime:CreateMeeting",
    }


@pytest.mark.parametrize("service", SERVICES)
def test_policy_allows_exactly_what_the_code_calls(service: str) -> None:
    needed = code_actions(service) - PROVISIONING_ONLY.get(service, set())
    allowed = policy_actions(service)
    assert not needed - allowed, f"{service} calls what its role does not allow"
    assert not allowed - needed, f"{service}'s role allows what its code never calls"


def test_provisioning_only_calls_are_made_and_never_allowed() -> None:
    """Each exemption names calls the service really makes, and its role is not given them."""
    for service, exempt in PROVISIONING_ONLY.items():
        assert code_actions(service) >= exempt, service
        assert not policy_actions(service) & exempt, service


def test_each_role_carries_its_own_document_and_callers_only() -> None:
    attached = attached_policies()
    callers = {service for service in SERVICES if code_actions(service)}
    assert set(attached) == callers
    for service, reference in attached.items():
        assert f"aws_iam_policy_document.irsa_{service}.json" in reference
    assert set(policy_documents()) == callers


def test_no_wildcard_actions() -> None:
    for service in SERVICES:
        for action in policy_actions(service):
            assert "*" not in action, (service, action)


def test_media_makes_a_meeting_with_its_first_attendees_in_one_call() -> None:
    """A tour's meeting is made by `CreateMeetingWithAttendees` (media's chime.py), which
    the scan reads and the role allows, held to the region as a creation naming no ARN;
    the two-call creation is gone, and so is its permission."""
    assert "chime:CreateMeetingWithAttendees" in code_actions("media")
    assert "chime:CreateMeeting" not in code_actions("media")
    (creating,) = [
        statement
        for statement in policy_documents()["media"]
        if "chime:CreateMeetingWithAttendees" in {_unquote(a) for a in statement["actions"]}
    ]
    assert [_unquote(a) for a in creating["actions"]] == ["chime:CreateMeetingWithAttendees"]
    assert [_unquote(r) for r in creating["resources"]] == ["*"]
    assert _unquote(creating["condition"][0]["variable"]) == "aws:RequestedRegion"
