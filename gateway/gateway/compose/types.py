"""The names composition speaks in: what goes in (subgraph sources) and what can go wrong.

Every problem is a `CompositionIssue` with a stable `code` (the same vocabulary Apollo
composition uses, so a message can be looked up by anyone who knows that tool) and a
message that names the type, field and subgraphs involved.

Error codes: INVALID_GRAPHQL, INVALID_SUBGRAPH_NAME, NO_SUBGRAPHS, NO_QUERIES;
KEY_INVALID_FIELDS, KEY_FIELDS_SELECT_INVALID_TYPE, KEY_FIELDS_HAS_ARGS,
REQUIRES_INVALID_FIELDS, REQUIRES_FIELDS_MISSING_EXTERNAL, PROVIDES_INVALID_FIELDS,
PROVIDES_ON_NON_OBJECT_FIELD, EXTERNAL_UNUSED,
EXTERNAL_MISSING_ON_BASE, EXTERNAL_TYPE_MISMATCH; TYPE_KIND_MISMATCH, FIELD_TYPE_MISMATCH,
FIELD_ARGUMENT_TYPE_MISMATCH, FIELD_ARGUMENT_DEFAULT_MISMATCH, INPUT_FIELD_DEFAULT_MISMATCH,
INVALID_FIELD_SHARING, REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH,
REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH, EMPTY_MERGED_INPUT_TYPE, ENUM_VALUE_MISMATCH,
EMPTY_MERGED_ENUM_TYPE, OVERRIDE_FROM_SELF_ERROR, OVERRIDE_SOURCE_HAS_OVERRIDE,
INTERFACE_FIELD_NO_IMPLEM, INTERFACE_OBJECT_USAGE_ERROR; REFERENCED_INACCESSIBLE,
REQUIRED_INACCESSIBLE, ONLY_INACCESSIBLE_CHILDREN; SATISFIABILITY_ERROR.
Hint codes: INCONSISTENT_INPUT_OBJECT_FIELD, INCONSISTENT_ENUM_VALUE_FOR_INPUT_ENUM,
INCONSISTENT_ARGUMENT_PRESENCE, INCONSISTENT_BUT_COMPATIBLE_FIELD_TYPE,
FROM_SUBGRAPH_DOES_NOT_EXIST, INCONSISTENT_DESCRIPTION.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SubgraphSource:
    """One subgraph as composition sees it: its name, routing URL and printed SDL."""

    name: str
    url: str
    sdl: str


@dataclass(frozen=True, slots=True)
class IssueLocation:
    """Where, in one subgraph's SDL, the element an issue is about is written (1-based)."""

    subgraph: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.subgraph}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class CompositionIssue:
    """One reason the subgraphs do not compose.

    `subgraphs` names the subgraphs involved; `coordinate` is the schema coordinate the
    issue is about (`Type`, `Type.field`, `Type.field(arg:)`), when there is one, and
    `locations` where that element is written in the involved subgraphs.
    """

    code: str
    message: str
    subgraphs: tuple[str, ...] = ()
    coordinate: str | None = None
    locations: tuple[IssueLocation, ...] = ()

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class CompositionError(Exception):
    """Raised by `compose` when the subgraphs cannot form a supergraph; holds every issue."""

    def __init__(self, issues: Sequence[CompositionIssue]) -> None:
        self.issues: list[CompositionIssue] = list(issues)
        lines = "\n".join(str(issue) for issue in self.issues)
        super().__init__(f"composition failed with {len(self.issues)} error(s):\n{lines}")

    @property
    def codes(self) -> list[str]:
        """The issue codes, in report order (handy for callers and tests)."""
        return [issue.code for issue in self.issues]


@dataclass(frozen=True, slots=True)
class Composition:
    """A successful composition: the supergraph SDL and the hints worth a look.

    A hint is not an error: something was dropped or narrowed on purpose (an optional
    input field one subgraph lacks, an argument defined in one subgraph only, ...).
    """

    supergraph: str
    hints: tuple[CompositionIssue, ...] = ()


@dataclass(slots=True)
class IssueLog:
    """Collects issues while composition runs, so one pass reports every problem it finds."""

    issues: list[CompositionIssue] = field(default_factory=list)
    hints: list[CompositionIssue] = field(default_factory=list)

    def hint(
        self,
        code: str,
        message: str,
        subgraphs: Sequence[str] = (),
        coordinate: str | None = None,
    ) -> None:
        self.hints.append(CompositionIssue(code, message, tuple(subgraphs), coordinate))

    def add(
        self,
        code: str,
        message: str,
        subgraphs: Sequence[str] = (),
        coordinate: str | None = None,
    ) -> None:
        self.issues.append(CompositionIssue(code, message, tuple(subgraphs), coordinate))

    def __bool__(self) -> bool:
        return bool(self.issues)
