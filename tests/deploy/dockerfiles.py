"""Reading the repository's Dockerfiles and pyproject files, for tests that check them
without a Docker engine.

A Dockerfile is read into stages of instructions (continuation lines joined, comments
dropped), which is all the checks need: what each stage starts from, runs, copies,
exposes and who it runs as.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    arguments: str
    line: int

    def words(self) -> list[str]:
        """The arguments as the builder splits them: JSON (exec form) or shell words."""
        if self.arguments.startswith("["):
            parsed = json.loads(self.arguments)
            assert isinstance(parsed, list) and all(isinstance(w, str) for w in parsed)
            return parsed
        return shlex.split(self.arguments, comments=False, posix=True)


@dataclass(slots=True)
class Stage:
    image: str
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def of(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, instruction text) with `\\` continuations joined and comments gone."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        lines.append((start, " ".join(part for part in pending if part)))
        pending = []
    if pending:
        raise ValueError(f"line {start}: the last instruction ends with a continuation")
    return lines


def parse(text: str) -> list[Stage]:
    """The stages of a Dockerfile, in order; instructions before the first FROM are refused
    except ARG (which only parameterises FROM lines)."""
    stages: list[Stage] = []
    for number, line in logical_lines(text):
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        arguments = arguments.strip()
        if keyword == "FROM":
            words = arguments.split()
            words = [w for w in words if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], name=name, line=number))
        elif not stages:
            if keyword != "ARG":
                raise ValueError(f"line {number}: {keyword} before the first FROM")
        else:
            stages[-1].instructions.append(Instruction(keyword, arguments, number))
    if not stages:
        raise ValueError("no FROM")
    return stages


@dataclass(frozen=True, slots=True)
class Copy:
    sources: tuple[str, ...]
    destination: str
    from_stage: str | None
    line: int


def copies(stage: Stage) -> list[Copy]:
    found: list[Copy] = []
    for instruction in stage.of("COPY"):
        words = instruction.words()
        flags = [w for w in words if w.startswith("--")]
        paths = [w for w in words if not w.startswith("--")]
        from_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
        found.append(Copy(tuple(paths[:-1]), paths[-1], from_stage, instruction.line))
    return found


def read_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def canonical(name: str) -> str:
    """A distribution name the way package indexes compare them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonical(match.group(1))


@dataclass(frozen=True, slots=True)
class Member:
    """One package of the uv workspace."""

    directory: Path
    name: str
    runtime: frozenset[str]
    dev: frozenset[str]
    import_names: tuple[str, ...]

    @property
    def relative(self) -> str:
        return self.directory.relative_to(REPO).as_posix()


def workspace_members() -> dict[str, Member]:
    """Every workspace member by its canonical project name."""
    root = read_toml(REPO / "pyproject.toml")
    members: dict[str, Member] = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for directory in sorted(REPO.glob(pattern)):
            path = directory / "pyproject.toml"
            if not path.is_file():
                continue
            data = read_toml(path)
            project = data["project"]
            dev = [
                *project.get("optional-dependencies", {}).get("dev", []),
                *(
                    d
                    for d in data.get("dependency-groups", {}).get("dev", [])
                    if isinstance(d, str)
                ),
            ]
            wheel = data.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
            packages = wheel.get("wheel", {}).get("packages", [])
            member = Member(
                directory=directory,
                name=canonical(project["name"]),
                runtime=frozenset(requirement_name(r) for r in project.get("dependencies", [])),
                dev=frozenset(requirement_name(r) for r in dev),
                import_names=tuple(Path(p).name for p in packages),
            )
            members[member.name] = member
    return members


def workspace_closure(name: str, members: dict[str, Member]) -> set[str]:
    """The workspace members `name` needs at run time, itself included."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(d for d in members[current].runtime if d in members)
    return seen


def root_dev_requirements() -> frozenset[str]:
    groups = read_toml(REPO / "pyproject.toml").get("dependency-groups", {})
    return frozenset(
        requirement_name(r) for entries in groups.values() for r in entries if isinstance(r, str)
    )


def makefile_variable(name: str) -> str:
    match = re.search(rf"^{name}\s*\??=\s*(\S+)", (REPO / "Makefile").read_text(), re.MULTILINE)
    if match is None:
        raise LookupError(f"{name} is not set in the Makefile")
    return match.group(1)


def images(members: dict[str, Member]) -> dict[str, Member]:
    """The members that ship an image: those with a Dockerfile."""
    return {name: m for name, m in members.items() if (m.directory / "Dockerfile").is_file()}


def uv() -> str:
    """The uv that `make install` bootstraps into .tools/, else one on PATH."""
    local = REPO / ".tools" / "bin" / "uv"
    found = str(local) if local.is_file() else shutil.which("uv")
    assert found, "uv is installed by `make install` into .tools/"
    return found


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored_by_docker(relative: str, patterns: list[str]) -> bool:
    """Whether the builder leaves a path (relative to the context) out, by .dockerignore:
    `**/name` matches at any depth, any other pattern from the context's root, and what is
    inside a directory left out is left out."""
    parts = relative.split("/")
    for end in range(1, len(parts) + 1):
        path = "/".join(parts[:end])
        for pattern in patterns:
            if pattern.startswith("**/"):
                tails = ("/".join(parts[i:end]) for i in range(end))
                if any(fnmatch.fnmatch(tail, pattern[3:]) for tail in tails):
                    return True
            elif fnmatch.fnmatch(path, pattern):
                return True
    return False


def context_filter() -> Callable[[str, list[str]], set[str]]:
    """A `shutil.copytree` ignore function that copies what the Docker build context holds."""
    patterns = dockerignore_patterns()

    def ignore(directory: str, names: list[str]) -> set[str]:
        base = Path(directory).resolve().relative_to(REPO).as_posix()
        prefix = "" if base == "." else f"{base}/"
        return {n for n in names if ignored_by_docker(prefix + n, patterns)}

    return ignore
