"""The `gateway` command: `gateway compose` builds the supergraph, `gateway serve` runs it.

`gateway compose` takes subgraphs from a rover-style config, from `--subgraph name=url`
(fetched with `{ _service { sdl } }`), from `--from-files name=url=path`, or, with none
of these, from `GATEWAY_SUBGRAPHS` or the local stack (keeping the subgraphs that answer).
Exit status: 0 composed, 1 composition errors, 2 bad arguments or unreachable subgraphs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gateway.compose import CompositionError, compose_with_hints
from gateway.compose.sources import (
    SourceError,
    SubgraphSpec,
    default_specs,
    load_config,
    parse_file_spec,
    parse_pairs,
    resolve,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    composer = commands.add_parser(
        "compose",
        help="compose the subgraphs into a supergraph SDL",
        description=(
            "Compose subgraphs into a supergraph SDL. With no --config, --subgraph or "
            "--from-files, the subgraphs are GATEWAY_SUBGRAPHS (name=url,name=url) or the "
            "local stack, and those that do not answer are skipped. Exit status: 0 composed, "
            "1 composition errors, 2 bad arguments or unreachable subgraphs."
        ),
    )
    composer.add_argument("--config", type=Path, help="rover-style supergraph.yaml")
    composer.add_argument(
        "--subgraph",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a running subgraph to fetch the SDL from (repeatable)",
    )
    composer.add_argument(
        "--from-files",
        action="append",
        default=[],
        metavar="NAME=URL=PATH",
        help="a subgraph whose SDL is read from a file; URL is its routing URL (repeatable)",
    )
    composer.add_argument("--out", type=Path, help="write the supergraph here (default: stdout)")
    composer.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for each subgraph"
    )
    commands.add_parser("serve", help="run the gateway (same as `python -m gateway`)")
    return parser


def _write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step: a reloading gateway never reads half a supergraph."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run_compose(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    specs: list[SubgraphSpec] = []
    try:
        if args.config is not None:
            specs.extend(load_config(args.config))
        for pair in args.subgraph:
            specs.extend(SubgraphSpec(name, url) for name, url in parse_pairs(pair))
        specs.extend(parse_file_spec(item) for item in args.from_files)
    except SourceError as exc:
        print(f"error: {exc}", file=err)
        return 2
    optional = not specs
    if optional:
        try:
            specs = default_specs()
        except SourceError as exc:
            print(f"error: GATEWAY_SUBGRAPHS: {exc}", file=err)
            return 2
    sources, failures = asyncio.run(resolve(specs, timeout=args.timeout))
    for name, reason in failures.items():
        print(f"{'skipped' if optional else 'error'}: subgraph {name!r}: {reason}", file=err)
    if failures and not optional:
        return 2
    if not sources:
        print("error: no subgraph answered; nothing to compose", file=err)
        return 2
    try:
        composition = compose_with_hints(sources)
    except CompositionError as exc:
        for issue in exc.issues:
            print(f"error[{issue.code}]: {issue.message}", file=err)
            for location in issue.locations:
                print(f"  --> {location}", file=err)
        print(f"composition failed with {len(exc.issues)} error(s)", file=err)
        return 1
    for hint in composition.hints:
        print(f"hint[{hint.code}]: {hint.message}", file=err)
    supergraph = composition.supergraph
    names = ", ".join(sorted(s.name for s in sources))
    if args.out is not None:
        _write_atomically(args.out, supergraph)
        print(f"composed {len(sources)} subgraph(s) ({names}) into {args.out}", file=err)
    else:
        out.write(supergraph)
        print(f"composed {len(sources)} subgraph(s) ({names})", file=err)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `gateway` console script."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from gateway.app import main as serve

        serve()
        return 0
    return run_compose(args, sys.stdout, sys.stderr)
