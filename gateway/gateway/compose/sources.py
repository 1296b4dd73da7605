"""Where subgraph SDL comes from: a running subgraph's `_service { sdl }`, a file, a config.

`make supergraph` runs against the local stack, so fetching is concurrent with a short
timeout, and a subgraph that does not answer is reported by name rather than failing
silently.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from .types import SubgraphSource

SERVICE_SDL_QUERY = "{ _service { sdl } }"

#: The local stack as `make dev` runs it.
DEFAULT_SUBGRAPHS: tuple[tuple[str, str], ...] = (
    ("identity", "http://127.0.0.1:4001/graphql"),
    ("listings", "http://127.0.0.1:4002/graphql"),
    ("scheduling", "http://127.0.0.1:4003/graphql"),
    ("media", "http://127.0.0.1:4004/graphql"),
    ("analytics", "http://127.0.0.1:4005/graphql"),
)


class SourceError(Exception):
    """A subgraph's SDL could not be obtained (unreachable, bad answer, unreadable file)."""


@dataclass(frozen=True, slots=True)
class SubgraphSpec:
    """Where to get one subgraph: its routing URL, plus a file or inline SDL when given.

    With neither `path` nor `sdl`, the SDL is fetched from `introspect_url` (the routing
    URL unless the config names another).
    """

    name: str
    url: str
    path: Path | None = None
    sdl: str | None = None
    introspect_url: str | None = None


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """`"identity=http://a,listings=http://b"` -> pairs (the `GATEWAY_SUBGRAPHS` format)."""
    pairs: list[tuple[str, str]] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, url = item.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise SourceError(f"expected name=url, got {item!r}")
        pairs.append((name.strip(), url.strip()))
    return pairs


def parse_file_spec(text: str) -> SubgraphSpec:
    """`name=url=path.graphql` (the URL may itself contain `=`; the path is after the last)."""
    name, sep, rest = text.partition("=")
    url, sep2, path = rest.rpartition("=")
    if not sep or not sep2 or not name or not url or not path:
        raise SourceError(f"expected name=url=path, got {text!r}")
    return SubgraphSpec(name=name, url=url, path=Path(path))


def load_config(path: Path) -> list[SubgraphSpec]:
    """Read a rover-style `supergraph.yaml`.

    ```yaml
    subgraphs:
      identity:
        routing_url: http://127.0.0.1:4001/graphql
        schema:
          file: ./identity.graphql        # or subgraph_url: ..., or sdl: "..."
    ```
    """
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc
    subgraphs = document.get("subgraphs") if isinstance(document, Mapping) else None
    if not isinstance(subgraphs, Mapping) or not subgraphs:
        raise SourceError(f"{path}: expected a non-empty 'subgraphs' mapping")
    specs: list[SubgraphSpec] = []
    for name, entry in subgraphs.items():
        if not isinstance(entry, Mapping):
            raise SourceError(f"{path}: subgraph {name!r} must be a mapping")
        schema = entry.get("schema") or {}
        if not isinstance(schema, Mapping):
            raise SourceError(f"{path}: subgraph {name!r}: 'schema' must be a mapping")
        routing_url = entry.get("routing_url") or schema.get("subgraph_url")
        if not routing_url:
            raise SourceError(f"{path}: subgraph {name!r} has no routing_url")
        file = schema.get("file")
        specs.append(
            SubgraphSpec(
                name=str(name),
                url=str(routing_url),
                path=(path.parent / str(file)) if file else None,
                sdl=str(schema["sdl"]) if schema.get("sdl") else None,
                introspect_url=str(schema.get("subgraph_url") or routing_url),
            )
        )
    return specs


def default_specs(environ: Mapping[str, str] = os.environ) -> list[SubgraphSpec]:
    """`GATEWAY_SUBGRAPHS` when set, else the local stack's five subgraphs."""
    configured = environ.get("GATEWAY_SUBGRAPHS", "").strip()
    pairs = parse_pairs(configured) if configured else list(DEFAULT_SUBGRAPHS)
    return [SubgraphSpec(name, url) for name, url in pairs]


async def fetch_sdl(client: httpx.AsyncClient, url: str) -> str:
    """Ask a running subgraph for its SDL."""
    try:
        response = await client.post(url, json={"query": SERVICE_SDL_QUERY})
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise SourceError(f"{url} did not answer: {exc.__class__.__name__}: {exc}") from exc
    if response.status_code != 200:
        raise SourceError(f"{url} answered HTTP {response.status_code}")
    try:
        body = response.json()
        sdl = body["data"]["_service"]["sdl"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SourceError(f"{url} did not return _service.sdl") from exc
    if not isinstance(sdl, str):
        raise SourceError(f"{url} did not return _service.sdl")
    return sdl


async def resolve(
    specs: Sequence[SubgraphSpec], timeout: float = 5.0
) -> tuple[list[SubgraphSource], dict[str, str]]:
    """Obtain every spec's SDL concurrently; returns the sources and, per failed name, why."""

    async def one(client: httpx.AsyncClient, spec: SubgraphSpec) -> SubgraphSource:
        if spec.sdl is not None:
            return SubgraphSource(spec.name, spec.url, spec.sdl)
        if spec.path is not None:
            try:
                text = spec.path.read_text(encoding="utf-8")
            except OSError as exc:
                raise SourceError(f"cannot read {spec.path}: {exc.strerror}") from exc
            return SubgraphSource(spec.name, spec.url, text)
        return SubgraphSource(
            spec.name, spec.url, await fetch_sdl(client, spec.introspect_url or spec.url)
        )

    async with httpx.AsyncClient(timeout=timeout) as client:
        results = await asyncio.gather(
            *(one(client, spec) for spec in specs), return_exceptions=True
        )
    sources: list[SubgraphSource] = []
    failures: dict[str, str] = {}
    for spec, result in zip(specs, results, strict=True):
        if isinstance(result, SubgraphSource):
            sources.append(result)
        elif isinstance(result, SourceError):
            failures[spec.name] = str(result)
        elif isinstance(result, BaseException):
            raise result
    return sources, failures
