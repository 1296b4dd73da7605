"""Each package declares what it imports, and imports what it declares.

An image installs a package's runtime dependencies and nothing else, so an import that is
not declared fails in production only, and a declared dependency nothing imports ships for
nothing. Imports are read from the source (every `import`, at module level or inside a
function) and mapped to the installed distribution that provides the module.
"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from .dockerfiles import Member, canonical, workspace_members

MEMBERS = workspace_members()
# Modules that run only in development and tests; their imports may come from `dev`.
DEV_ONLY_MODULES = {
    "servicekit": ("servicekit/testing/",),
    "chimesim": ("chimesim/testing.py",),  # its pytest plugin
}
# Declared without being imported, and why that is the point of them.
DATA_ONLY = {
    # the IANA zone database `zoneinfo` reads when the system has none
    "tzdata": "zoneinfo",
    # the protocol implementation uvicorn is told to serve WebSockets with (ws=...)
    "websockets": "websockets-sansio",
}


@dataclass(frozen=True, slots=True)
class Import:
    module: str
    path: Path
    line: int
    module_level: bool


def imports_of(path: Path) -> list[Import]:
    """Absolute imports in a file; `from a import b` also names `a.b`, which may be a module."""
    tree = ast.parse(path.read_text(), str(path))
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or (
            isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        ):
            nested.update(id(child) for child in ast.walk(node) if child is not node)
    found: list[Import] = []
    for node in ast.walk(tree):
        top = id(node) not in nested
        if isinstance(node, ast.Import):
            found += [Import(a.name, path, node.lineno, top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [Import(f"{node.module}.{a.name}", path, node.lineno, top) for a in node.names]
    return found


@cache
def module_owners() -> dict[str, str]:
    """Dotted module name -> the distribution whose files provide it."""
    owners: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = canonical(dist.metadata["Name"])
        for file in dist.files or ():
            parts = file.parts
            if not parts or parts[0].endswith((".dist-info", ".data")) or ".." in parts:
                continue
            if file.suffix not in (".py", ".so", ".pyd"):
                continue
            stem = parts[-1].split(".")[0]
            dotted = [*parts[:-1]] if stem == "__init__" else [*parts[:-1], stem]
            if dotted:
                owners.setdefault(".".join(dotted), name)
    for member in MEMBERS.values():
        for import_name in member.import_names:
            owners[import_name] = member.name
    return owners


def owner(module: str) -> str | None:
    """The distribution of a module or its nearest package; None for the standard library."""
    if module.split(".")[0] in sys.stdlib_module_names:
        return None
    owners = module_owners()
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        found = owners.get(".".join(parts[:end]))
        if found:
            return found
    raise LookupError(f"no installed distribution provides {module}")


def sources(member: Member) -> list[Path]:
    return sorted(
        path
        for name in member.import_names
        for path in (member.directory / name).rglob("*.py")
        if "_pb2" not in path.name
    )


def dev_only(member: Member, path: Path) -> bool:
    relative = path.relative_to(member.directory).as_posix()
    return relative.startswith(DEV_ONLY_MODULES.get(member.name, ()))


checked = [m for m in MEMBERS.values() if m.name != "realty-protos"]  # generated code
packages = pytest.mark.parametrize("name", sorted(m.name for m in checked))


@packages
def test_every_import_is_declared(name: str) -> None:
    member = MEMBERS[name]
    missing: dict[str, str] = {}  # distribution -> the first place that needs it
    for path in sources(member):
        development = dev_only(member, path)
        for found in imports_of(path):
            dist = owner(found.module)
            if dist is None or dist == member.name:
                continue
            # What a runtime module imports at load time must be a runtime dependency;
            # an import deferred into a function may serve development only.
            allowed = set(member.runtime)
            if development or not found.module_level:
                allowed |= member.dev
            if dist not in allowed:
                where = path.relative_to(member.directory)
                missing.setdefault(dist, f"{where}:{found.line} {found.module}")
    assert not missing, "imported but not declared: " + ", ".join(
        f"{dist} ({where})" for dist, where in sorted(missing.items())
    )


@packages
def test_every_runtime_dependency_is_imported(name: str) -> None:
    member = MEMBERS[name]
    used: set[str] = set()
    text: list[str] = []
    for path in sources(member):
        if dev_only(member, path):
            continue
        text.append(path.read_text())
        used |= {d for i in imports_of(path) if (d := owner(i.module)) is not None}
    unused = {
        d for d in member.runtime - used if not (d in DATA_ONLY and DATA_ONLY[d] in "".join(text))
    }
    assert not unused, f"declared, never imported: {sorted(unused)}"


def test_imports_are_read_with_their_place(tmp_path: Path) -> None:
    path = tmp_path / "sample.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "import grpc\n"
        "from opentelemetry import trace\n"
        "if TYPE_CHECKING:\n"
        "    from aiosmtpd.smtp import SMTP\n"
        "def later() -> None:\n"
        "    import boto3\n"
    )
    found = {(i.module, i.module_level) for i in imports_of(path)}
    assert found == {
        ("typing.TYPE_CHECKING", True),
        ("grpc", True),
        ("opentelemetry.trace", True),
        ("aiosmtpd.smtp.SMTP", False),
        ("boto3", False),
    }
    assert owner("opentelemetry.trace") == "opentelemetry-api"
    assert owner("opentelemetry.sdk.trace") == "opentelemetry-sdk"
    assert owner("google.protobuf.timestamp_pb2") == "protobuf"
    assert owner("zoneinfo") is None
