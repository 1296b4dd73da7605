"""A subgraph schema on its lean path (plain fields completed inline, `self`-only methods
called directly) answers exactly as strawberry's own schema on graphql-core: the same
bytes of data and the same errors (message, path, locations), for any selection over
objects whose attributes hold anything, valid or not."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import httpx
import orjson
import pytest
import strawberry
from graphql import execute, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servicekit.execution import PLAIN, LeanExecutor
from servicekit.graphql import SubgraphApp, SubgraphSchema
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class Colour(Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.type
class Leaf:
    id: strawberry.ID
    name: str | None
    count: int
    ratio: float | None
    done: bool
    at: datetime
    day: date | None
    colour: Colour
    maybe_colour: Colour | None

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.name.upper() * times if self.name else ""

    @strawberry.field
    async def later(self) -> int:
        return self.count

    @strawberry.field
    def broken(self) -> int | None:
        raise RuntimeError("no")


@strawberry.type
class Node:
    id: strawberry.ID
    title: str
    leaf: Leaf | None
    leaves: list[Leaf]

    @strawberry.field
    def first(self) -> Leaf | None:
        return self.leaves[0] if self.leaves else None


@strawberry.type
class Query:
    @strawberry.field
    def node(self) -> Node | None:
        return _ROOT.get("node")

    @strawberry.field
    def nodes(self) -> list[Node | None]:
        return list(_ROOT.get("nodes", []))

    @strawberry.field
    async def slow(self) -> Node:
        await asyncio.sleep(0)
        return _ROOT["node"]


_ROOT: dict[str, Any] = {}
SCHEMA = SubgraphSchema(query=Query)
# The reference: strawberry's schema as it comes, on strawberry's executor.
REFERENCE = strawberry.federation.Schema(query=Query)

# Values an attribute may hold: the right kind, null, and what a scalar refuses.
ANY_VALUE = st.one_of(
    st.none(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=5),
    st.sampled_from([Colour.RED, Colour.BLUE, "RED", "GREEN"]),
    st.just(datetime(2027, 1, 5, 15, 0, tzinfo=UTC)),
    st.just(date(2027, 1, 5)),
    st.just(uuid.UUID(int=7)),
    st.just(ValueError("held")),
)
LEAF_FIELDS = ["id", "name", "count", "ratio", "done", "at", "day", "colour", "maybeColour"]
EXTRA_LEAF = ["shout", "shout(times: 2)", "later", "broken", "__typename"]


@dataclass
class AnyLeaf:
    id: Any
    name: Any
    count: Any
    ratio: Any
    done: Any
    at: Any
    day: Any
    colour: Any
    maybe_colour: Any

    # The strawberry resolvers read these through `self`.
    shout = Leaf.shout
    later = Leaf.later
    broken = Leaf.broken


@dataclass
class AnyNode:
    id: Any
    title: Any
    leaf: Any
    leaves: Any
    first = Node.first


leaves = st.builds(AnyLeaf, *([ANY_VALUE] * 9))
nodes = st.builds(
    AnyNode,
    ANY_VALUE,
    ANY_VALUE,
    st.one_of(st.none(), leaves),
    st.lists(leaves, max_size=3),
)


@st.composite
def selections(draw: st.DrawFn) -> str:
    def pick(names: list[str]) -> str:
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=6))
        aliased = [f"a{i}: {n}" if draw(st.booleans()) else n for i, n in enumerate(chosen)]
        return " ".join(aliased)

    leaf = "{ " + pick(LEAF_FIELDS + EXTRA_LEAF) + " }"
    node = "{ " + pick(["id", "title", "__typename"]) + f" leaf {leaf} leaves {leaf} "
    node += f"first {leaf} " + ("...on Node { title id }" if draw(st.booleans()) else "") + " }"
    root = draw(st.sampled_from(["node", "nodes", "slow"]))
    skip = draw(st.sampled_from(["", " @skip(if: true)", " @include(if: true)"]))
    return "{ " + root + " " + node + (f" other: node{skip} {{ id }}" if skip else "") + " }"


def answer(schema: strawberry.Schema, executor: type, document: str) -> tuple[bytes, list[Any]]:
    async def run() -> Any:
        result = execute(
            schema._schema,
            parse(document),
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            executor_class=executor,
        )
        return await result if optimized_is_awaitable(result) else result

    result = asyncio.run(run())
    return orjson.dumps(result.data), [e.formatted for e in result.errors or []]


# graphql-core leaves an async sibling's coroutine unawaited when a non-null error nulls
# its parent first; it does so on both sides alike, so that warning says nothing here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(root=nodes, more=st.lists(st.one_of(st.none(), nodes), max_size=3), document=selections())
def test_the_lean_executor_answers_byte_for_byte_as_graphql_core(
    root: AnyNode, more: list[AnyNode | None], document: str
) -> None:
    _ROOT.clear()
    _ROOT.update(node=root, nodes=more)
    lean = answer(SCHEMA, LeanExecutor, document)
    assert lean == answer(REFERENCE, StrawberryGraphQLCoreExecutionContext, document)


def test_only_self_only_sync_methods_are_called_directly() -> None:
    leaf = SCHEMA._schema.type_map["Leaf"]
    node = SCHEMA._schema.type_map["Node"]
    direct = {
        f"{kind.name}.{name}"
        for kind in (leaf, node)
        for name, field in kind.fields.items()  # type: ignore[union-attr]
        if field.resolve.__qualname__.startswith("_method")
    }
    assert direct == {"Leaf.broken", "Node.first"}  # not shout (arguments), not later (async)


def test_only_argumentless_leaf_fields_without_resolvers_are_plain() -> None:
    leaf = SCHEMA._schema.type_map["Leaf"]
    node = SCHEMA._schema.type_map["Node"]
    assert set(leaf.extensions[PLAIN]) == set(LEAF_FIELDS)  # type: ignore[union-attr]
    assert set(node.extensions[PLAIN]) == {"id", "title"}  # type: ignore[union-attr]


async def test_the_subgraph_path_uses_it_and_codes_errors_as_before() -> None:
    assert SCHEMA.execution_context_class is LeanExecutor
    _ROOT.clear()
    _ROOT.update(node=AnyNode("n1", None, None, []), nodes=[])
    result = await SCHEMA.execute("{ node { id title } }")
    assert result.data == {"node": None}
    assert result.errors is not None
    assert [(e.path, e.extensions) for e in result.errors] == [
        (["node", "title"], {"code": "INTERNAL_SERVER_ERROR"})
    ]


async def test_the_http_answer_is_orjsons_bytes_of_the_result() -> None:
    _ROOT.clear()
    _ROOT.update(node=AnyNode("n1", "Ünïcode ✓", None, []), nodes=[])
    app = SubgraphApp(SCHEMA, verifier=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://subgraph") as client:
        answer = await client.post("/graphql", json={"query": "{ node { id title } }"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.content == orjson.dumps({"data": {"node": {"id": "n1", "title": "Ünïcode ✓"}}})
