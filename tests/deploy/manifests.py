"""Building the kustomize overlays of deploy/k8s and reading what they hold, for tests that
check the manifests without a cluster.

An overlay is built once per test session with `kubectl kustomize` (the tests skip with a
message when kubectl is absent) and read into plain dictionaries; the helpers here find a
workload's containers and the environment variables each container is given.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import functools
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from .dockerfiles import REPO

K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("production", "dev")
NAMESPACE = "realty"
# The processes the manifests run: each service and the gateway, named like their images.
SERVICES = ("identity", "listings", "scheduling", "media", "analytics")
PROCESSES = (*SERVICES, "gateway")
# Custom resources whose operators are installed beside the manifests.
CUSTOM_GROUPS = ("cert-manager.io/", "external-secrets.io/")

Doc = dict[str, Any]


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not installed: the Kubernetes manifests cannot be built here")
    return found


# `terraform output -json` of an applied stack, in its shape, for building production.
TERRAFORM_OUTPUTS = Path(__file__).resolve().parent / "fixtures" / "terraform-output.json"


@functools.cache
def prepared_tree() -> Path:
    """A copy of deploy/k8s whose production overlay has its terraform-outputs.env, written
    from TERRAFORM_OUTPUTS by the script operators run (`make deploy-config`): the
    committed tree holds no such file, so production builds only from Terraform's values."""
    root = Path(tempfile.mkdtemp(prefix="k8s-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    tree = root / "k8s"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("terraform-outputs.env"))
    written = subprocess.run(
        [
            sys.executable,
            str(tree / "terraform_outputs.py"),
            "--json",
            str(TERRAFORM_OUTPUTS),
            "--out",
            str(tree / "production" / "terraform-outputs.env"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert written.returncode == 0, written.stderr
    return tree


@functools.cache
def build(overlay: str) -> tuple[Doc, ...]:
    """Every object of an overlay, as `kubectl kustomize` renders it (production with the
    outputs of TERRAFORM_OUTPUTS)."""
    directory = prepared_tree() / overlay if overlay == "production" else K8S / overlay
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"kustomize {overlay}: {result.stderr}"
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def rendered(overlay: str) -> str:
    return yaml.safe_dump_all(build(overlay), sort_keys=False)


def of_kind(docs: tuple[Doc, ...], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workloads(docs: tuple[Doc, ...]) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] in ("Deployment", "StatefulSet")}


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Doc) -> Iterator[Doc]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def main_container(workload: Doc) -> Doc:
    name = workload["metadata"]["name"]
    [container] = [c for c in pod_spec(workload)["containers"] if c["name"] == name]
    return container


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    value: str
    source: str  # where it comes from: "env", "ConfigMap <name>", "Secret <name>"


def secret_keys(docs: tuple[Doc, ...], name: str) -> dict[str, str]:
    """The keys of a Secret: a rendered Secret's data, else what an ExternalSecret fills it
    with (values are placeholders: they live in Secrets Manager)."""
    secrets = of_kind(docs, "Secret")
    if name in secrets:
        data = secrets[name].get("data", {})
        return {k: base64.b64decode(v).decode() for k, v in data.items()}
    for external in of_kind(docs, "ExternalSecret").values():
        if external["spec"]["target"]["name"] == name:
            return {
                d["secretKey"]: f"<{d['remoteRef']['key']}:{d['secretKey']}>"
                for d in external["spec"].get("data", [])
            }
    raise AssertionError(f"no Secret or ExternalSecret makes {name}")


def environment(docs: tuple[Doc, ...], container: Doc) -> dict[str, Variable]:
    """Every variable a container is given: envFrom ConfigMaps and Secrets, then env."""
    config_maps = of_kind(docs, "ConfigMap")
    found: dict[str, Variable] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            assert name in config_maps, f"{container['name']}: no ConfigMap {name}"
            for key, value in config_maps[name].get("data", {}).items():
                found[key] = Variable(key, value, f"ConfigMap {name}")
        else:
            name = source["secretRef"]["name"]
            for key, value in secret_keys(docs, name).items():
                found[key] = Variable(key, value, f"Secret {name}")
    for item in container.get("env", []):
        found[item["name"]] = Variable(item["name"], item.get("value", ""), "env")
    return found


def image_environment(process: str) -> dict[str, str]:
    """What the image's runtime stage sets with ENV (its Dockerfile)."""
    from .dockerfiles import parse

    directory = REPO / ("gateway" if process == "gateway" else f"services/{process}")
    final = parse((directory / "Dockerfile").read_text())[-1]
    values: dict[str, str] = {}
    for instruction in final.of("ENV"):
        for word in instruction.words():
            key, _, value = word.partition("=")
            values[key] = value
    return values


def settings_classes(process: str) -> tuple[type[BaseSettings], ...]:
    """The settings classes a process reads: the service's own (whose `infra` field reads
    InfraSettings), the gateway's and, for its revocation feed, InfraSettings."""
    from servicekit.settings import InfraSettings

    if process == "gateway":
        from gateway.settings import GatewaySettings

        return (GatewaySettings, InfraSettings)
    module = importlib.import_module(f"{process}.settings")
    return (module.Settings, InfraSettings)


@contextlib.contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ replaced by exactly `values` (settings read nothing else) while inside."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def process_environment(overlay: str, process: str) -> dict[str, str]:
    """The environment the process's main container runs with in an overlay."""
    container = main_container(of_kind(build(overlay), "Deployment")[process])
    given = {k: v.value for k, v in environment(build(overlay), container).items()}
    return {**image_environment(process), **given}


def settings_of(process: str, overlay: str = "production") -> Any:
    """The process's settings as the overlay configures them (secrets as placeholders)."""
    with environ(process_environment(overlay, process)):
        return settings_classes(process)[0]()
