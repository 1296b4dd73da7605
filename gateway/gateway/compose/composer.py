"""`compose`: subgraph sources in, supergraph SDL out (or every reason it cannot be)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from graphql import GraphQLError, build_schema, validate_schema

from .inaccessible import check_inaccessible
from .merge import Merger
from .printer import print_supergraph
from .reader import read_subgraph
from .satisfiability import check_satisfiability
from .subgraph import Subgraph
from .types import (
    Composition,
    CompositionError,
    CompositionIssue,
    IssueLocation,
    IssueLog,
    SubgraphSource,
)
from .validate import validate_subgraph


def compose(subgraphs: Sequence[SubgraphSource]) -> str:
    """Compose Federation v2 (or v1-style) subgraphs into a supergraph SDL.

    Subgraphs are taken in name order, as the `join__Graph` enum lists them. Raises
    `CompositionError` carrying every issue found; nothing is printed until the whole
    composition is sound.
    """
    return compose_with_hints(subgraphs).supergraph


def compose_with_hints(subgraphs: Sequence[SubgraphSource]) -> Composition:
    """`compose`, also returning the hints (what was dropped or narrowed on purpose)."""
    issues = IssueLog()
    if not subgraphs:
        issues.add("NO_SUBGRAPHS", "No subgraphs to compose.")
        raise CompositionError(issues.issues)
    seen: set[str] = set()
    for source in subgraphs:
        if not source.name or not source.name.strip():
            issues.add("INVALID_SUBGRAPH_NAME", "A subgraph has an empty name.")
        elif source.name in seen:
            issues.add(
                "INVALID_SUBGRAPH_NAME",
                f'More than one subgraph is named "{source.name}".',
                [source.name],
            )
        seen.add(source.name)
    if issues:
        raise CompositionError(issues.issues)
    parsed: list[Subgraph] = []
    for source in sorted(subgraphs, key=lambda s: s.name):
        subgraph = read_subgraph(source.name, source.url, source.sdl, issues)
        if subgraph is not None:
            parsed.append(subgraph)
    _stop_on(issues, parsed)
    for subgraph in parsed:
        validate_subgraph(subgraph, issues)
    _stop_on(issues, parsed)
    supergraph = Merger(parsed, issues).merge()
    _stop_on(issues, parsed)
    check_inaccessible(supergraph, issues)
    _stop_on(issues, parsed)
    check_satisfiability(supergraph, parsed, issues)
    _stop_on(issues, parsed)
    printed = print_supergraph(supergraph)
    for problem in _schema_problems(printed):
        issues.add("INVALID_GRAPHQL", f"The composed supergraph is not a valid schema: {problem}")
    _stop_on(issues, parsed)
    return Composition(printed, tuple(issues.hints))


def _stop_on(issues: IssueLog, parsed: Sequence[Subgraph]) -> None:
    """Raise with every issue so far, each located in the subgraphs it involves."""
    if not issues:
        return
    by_name = {s.name: s for s in parsed}
    located: list[CompositionIssue] = []
    for issue in issues.issues:
        locations: list[IssueLocation] = []
        if issue.coordinate is not None:
            # The element itself, else its field, else its type (a missing key field
            # is reported where the type is written).
            candidates = [issue.coordinate, issue.coordinate.split("(")[0]]
            candidates.append(candidates[-1].split(".")[0])
            for name in issue.subgraphs:
                subgraph = by_name.get(name)
                if subgraph is None:
                    continue
                position = next(
                    (loc for c in candidates if (loc := subgraph.location(c)) is not None), None
                )
                if position is not None:
                    locations.append(IssueLocation(name, *position))
        located.append(replace(issue, locations=tuple(locations)))
    raise CompositionError(located)


def _schema_problems(sdl: str) -> list[str]:
    """GraphQL validity of the result: a last guard against a merge rule this module misses."""
    try:
        schema = build_schema(sdl, assume_valid_sdl=True)
    except (GraphQLError, TypeError) as exc:
        return [str(exc)]
    return [error.message for error in validate_schema(schema)]
