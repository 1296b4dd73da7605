"""Federation v2 composition: subgraph SDLs in, a supergraph SDL (join v0.5, link v1.0) out.

The output is the `@link`/`join__` format that Apollo composition writes, which is what
`gateway.supergraph.Supergraph.parse` reads.
"""

from .composer import compose, compose_with_hints
from .types import (
    Composition,
    CompositionError,
    CompositionIssue,
    IssueLocation,
    SubgraphSource,
)

__all__ = [
    "Composition",
    "CompositionError",
    "CompositionIssue",
    "IssueLocation",
    "SubgraphSource",
    "compose",
    "compose_with_hints",
]
