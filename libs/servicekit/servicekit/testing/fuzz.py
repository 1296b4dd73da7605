"""Property-based inputs for a subgraph: every operation, generated arguments, no 500.

The operations are generated from the subgraph's own schema (hypothesis-graphql): every
root query and mutation field with arguments of every shape the schema allows (NUL bytes
and any other code point, the largest and smallest numbers, empty strings, nulls), and for
the scalars the schema leaves open (DateTime, Date, JSON) values at the edges of their
ranges: years 1 and 9999 with offsets, impossible dates; strings that are zone names of
directories or of no place; cursors holding numbers out of range. Each
operation is run as each kind of caller given; any INTERNAL_SERVER_ERROR fails, naming the
operation that produced it. The budget (`examples` per root field) keeps `make test` short.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import graphql
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema
from hypothesis_graphql import nodes as gql_nodes

Execute = Callable[[str], Awaitable[Sequence[dict[str, Any]]]]
"""Runs one document as one caller and returns the formatted errors (may be empty)."""

_EDGE_INSTANTS = (
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59Z",
    "2030-02-30T10:00:00Z",
    "2030-01-01T10:00:00",
    "not a time",
    "",
    "2030-06-01T10:00:00+14:00",
)
_EDGE_DATES = ("0001-01-01", "9999-12-31", "2030-02-30", "20300101", "")
_EDGE_STRINGS = (
    "America",
    "posixrules",
    "Factory",
    "../../../etc/passwd",
    "x\x00y",
    "Europe/Paris",
    "",
    "a" * 5000,
    "9" * 400,
    "-1",
)


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


_EDGE_CURSORS = (
    _cursor([10**30, "00000000-0000-0000-0000-000000000000"]),
    _cursor([-(2**63) - 1]),
    _cursor(["9999-12-31T23:59:59Z", 1e308]),
    _cursor({"not": "a list"}),
    "%%%not-base64",
)


def _string_nodes(values: Iterable[str]) -> st.SearchStrategy[graphql.StringValueNode]:
    return st.sampled_from(list(values)).map(gql_nodes.String)


def edge_scalars() -> dict[str, st.SearchStrategy[Any]]:
    """Strategies for the open scalars our subgraphs use."""
    text = st.one_of(_string_nodes(_EDGE_STRINGS), st.text(max_size=50).map(gql_nodes.String))
    return {
        "DateTime": st.one_of(_string_nodes(_EDGE_INSTANTS), text),
        "Date": st.one_of(_string_nodes(_EDGE_DATES), text),
        "JSON": st.one_of(
            text,
            st.integers(min_value=-(2**70), max_value=2**70).map(gql_nodes.Int),
            st.just(gql_nodes.Null),
        ),
        "UUID": st.one_of(_string_nodes(("00000000-0000-0000-0000-000000000000",)), text),
    }


@dataclass(frozen=True)
class Failure:
    document: str
    caller: str
    errors: list[dict[str, Any]]


def generate(
    schema: graphql.GraphQLSchema,
    *,
    fields: Iterable[str],
    examples: int,
) -> list[str]:
    """`examples` generated documents for each root field (deterministic)."""
    documents: list[str] = []
    scalars = edge_scalars()
    known = {name for name in scalars if schema.get_type(name) is not None}
    for field in fields:
        strategy = from_schema(
            schema,
            fields=[field],
            custom_scalars={k: v for k, v in scalars.items() if k in known},
        )

        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            deadline=None,
        )
        @given(strategy)
        def collect(document: object) -> None:
            documents.append(str(document))

        collect()
    variants = []
    for index, document in enumerate(documents):
        # Every string literal set to one of the edge strings (zone names of directories
        # and of no place, NUL bytes, very long text, …).
        variants.append(_with_strings(document, _EDGE_STRINGS[index % len(_EDGE_STRINGS)]))
        # Cursors are opaque strings to the schema: feed the edge ones to every `after`.
        if "after:" in document:
            variants.extend(_with_strings(document, c, only="after") for c in _EDGE_CURSORS)
    return documents + variants


def _with_strings(document: str, value: str, *, only: str | None = None) -> str:
    """The document with every string literal (or the one of argument `only`) set to `value`."""
    parsed = graphql.parse(document)

    class SetStrings(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *_: object) -> object:
            if only is None:
                return None
            if node.name.value == only:
                return graphql.ArgumentNode(
                    name=node.name, value=graphql.StringValueNode(value=value)
                )
            return graphql.Visitor.SKIP

        def enter_string_value(self, node: graphql.StringValueNode, *_: object) -> object:
            return graphql.StringValueNode(value=value) if only is None else None

    return graphql.print_ast(graphql.visit(parsed, SetStrings()))


def _unexplained(error: dict[str, Any]) -> bool:
    """An error a client cannot act on: INTERNAL_SERVER_ERROR, or bad input that does not
    name the input it refuses (`extensions.field`)."""
    extensions = error.get("extensions") or {}
    code = extensions.get("code")
    return code == "INTERNAL_SERVER_ERROR" or (
        code == "BAD_USER_INPUT" and "field" not in extensions
    )


def root_fields(schema: graphql.GraphQLSchema, *, skip: Iterable[str] = ()) -> list[str]:
    """Every root query and mutation field except the federation ones and `skip`."""
    skipped = {"_entities", "_service", *skip}
    names: list[str] = []
    for root in (schema.query_type, schema.mutation_type):
        if root is not None:
            names.extend(name for name in root.fields if name not in skipped)
    return names


async def find_internal_errors(
    documents: Iterable[str], callers: dict[str, Execute]
) -> list[Failure]:
    """Run every document as every caller; the ones answered INTERNAL_SERVER_ERROR, or
    BAD_USER_INPUT without naming the field."""
    failures: list[Failure] = []
    for document in documents:
        for caller, execute in callers.items():
            errors = list(await execute(document))
            internal = [e for e in errors if _unexplained(e)]
            if internal:
                failures.append(Failure(document, caller, internal))
    return failures
