"""A subgraph schema on its lean path (plain fields, objects and lists completed inline,
`self`-only methods called directly, entities typed once per class) answers exactly as
strawberry's own schema on graphql-core: the same bytes of data and the same errors
(message, path, locations), for any selection over objects whose attributes hold
anything, valid or not: lists of leaves and of objects, nested objects, `_entities`
whose references resolve to anything, errors inside lists."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import httpx
import orjson
import pytest
import strawberry
from graphql import DocumentNode, execute, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servicekit.execution import PLAIN, DocumentPlans, LeanExecutor, PlainComposite
from servicekit.graphql import SubgraphApp, SubgraphSchema
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class Colour(Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.federation.type(keys=["id"])
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
    tags: list[str] = strawberry.field(default_factory=list)
    scores: list[int | None] | None = None

    @classmethod
    async def resolve_reference(cls, id: strawberry.ID) -> Any:
        await asyncio.sleep(0)
        return _ROOT["entities"][int(id)]

    @strawberry.field
    def shout(self, info: strawberry.Info, times_over: int = 1) -> str:
        assert info.field_name == "shout"
        return self.name.upper() * times_over if self.name else ""

    @strawberry.field
    async def later(self) -> int:
        return self.count

    @strawberry.field
    def broken(self) -> int | None:
        raise RuntimeError("no")


@strawberry.federation.type(keys=["name"])
class Tag:
    name: str | None

    @classmethod
    def resolve_reference(cls, name: str) -> Any:
        return _ROOT["entities"][int(name)]


@strawberry.type
class Node:
    id: strawberry.ID
    title: str
    leaf: Leaf | None
    leaves: list[Leaf]
    parts: list[Leaf | None] | None = None
    children: list[Node] = strawberry.field(default_factory=list)

    @strawberry.field
    def first(self) -> Leaf | None:
        return self.leaves[0] if self.leaves else None

    @strawberry.field
    def resolved(self) -> list[Leaf | None]:
        return self.parts if isinstance(self.parts, list) else []

    @strawberry.field
    def pending(self, info: strawberry.Info) -> list[Leaf]:
        async def later(leaf: Any) -> Any:
            await asyncio.sleep(0)
            return leaf

        return [later(leaf) for leaf in self.leaves]  # type: ignore[misc]


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
SCHEMA = SubgraphSchema(query=Query, types=[Tag])
# The reference: strawberry's schema as it comes, on strawberry's executor.
REFERENCE = strawberry.federation.Schema(query=Query, types=[Tag])

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
LIST_FIELDS = ["tags", "scores"]
# What a list attribute may hold: lists of anything, a tuple, a non-list, null.
ANY_LIST = st.one_of(
    st.none(),
    st.lists(ANY_VALUE, max_size=3),
    st.lists(ANY_VALUE, max_size=2).map(tuple),
    st.lists(st.text(max_size=3), max_size=3),
    ANY_VALUE,
)
EXTRA_LEAF = ["shout", "shout(timesOver: 2)", "later", "broken", "__typename"]


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
    tags: Any = None
    scores: Any = None

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
    parts: Any = None
    children: Any = ()
    first = Node.first
    resolved = Node.resolved
    pending = Node.pending


leaves = st.builds(AnyLeaf, *([ANY_VALUE] * 9), ANY_LIST, ANY_LIST)
# Real strawberry instances too: `_entities` types them by class.
LEAF_ATTRIBUTES = [*(f.name for f in fields(AnyLeaf))]
typed_leaves = st.builds(
    lambda *values: Leaf(**dict(zip(LEAF_ATTRIBUTES, values, strict=True))),
    *([ANY_VALUE] * 9),
    ANY_LIST,
    ANY_LIST,
)
some_leaves = st.one_of(leaves, typed_leaves)
odd = st.one_of(st.none(), st.just(ValueError("held")), ANY_VALUE)
leaf_lists = st.one_of(
    st.lists(some_leaves, max_size=3),
    st.lists(st.one_of(some_leaves, odd), max_size=3),
    st.lists(some_leaves, max_size=2).map(tuple),
    odd,
)
plain_nodes = st.builds(
    AnyNode,
    ANY_VALUE,
    ANY_VALUE,
    st.one_of(st.none(), some_leaves),
    leaf_lists,
    leaf_lists,
)
nodes = st.builds(
    AnyNode,
    ANY_VALUE,
    ANY_VALUE,
    st.one_of(st.none(), some_leaves),
    leaf_lists,
    leaf_lists,
    st.one_of(st.lists(st.one_of(plain_nodes, odd), max_size=2), odd),
)
entities = st.lists(
    st.one_of(
        typed_leaves, leaves, st.builds(lambda name: Tag(name=name), ANY_VALUE), odd, plain_nodes
    ),
    max_size=4,
)


@st.composite
def selections(draw: st.DrawFn) -> str:
    def pick(names: list[str]) -> str:
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=6))
        aliased = [f"a{i}: {n}" if draw(st.booleans()) else n for i, n in enumerate(chosen)]
        return " ".join(aliased)

    leaf = "{ " + pick(LEAF_FIELDS + LIST_FIELDS + EXTRA_LEAF) + " }"
    lists = draw(st.lists(st.sampled_from(["leaves", "parts", "resolved", "pending"]), max_size=3))
    inner = "{ " + pick(["id", "title", "__typename"]) + f" leaf {leaf} "
    inner += "".join(f"{name} {leaf} " for name in lists) + "}"
    node = "{ " + pick(["id", "title", "__typename"]) + f" leaf {leaf} leaves {leaf} "
    node += "".join(f"{name} {leaf} " for name in lists)
    node += f"children {inner} " if draw(st.booleans()) else ""
    node += f"first {leaf} " + ("...on Node { title id }" if draw(st.booleans()) else "") + " }"
    root = draw(st.sampled_from(["node", "nodes", "slow", "_entities"]))
    if root == "_entities":
        count = draw(st.integers(min_value=0, max_value=4))
        kinds = [
            draw(st.sampled_from(['Leaf", id', 'Tag", name', 'Node", id', 'Nope", id']))
            for _ in range(count)
        ]
        references = ", ".join(f'{{__typename: "{k}: "{i}"}}' for i, k in enumerate(kinds))
        typed = f"...on Leaf {leaf} " + ("...on Tag { name }" if draw(st.booleans()) else "")
        return f"{{ _entities(representations: [{references}]) {{ __typename {typed} }} }}"
    skip = draw(st.sampled_from(["", " @skip(if: true)", " @include(if: true)"]))
    return "{ " + root + " " + node + (f" other: node{skip} {{ id }}" if skip else "") + " }"


# Documents parsed once with the plans they compile to, kept across examples: a plan
# compiled for one example's values must answer every later example's values.
COMPILED: dict[str, tuple[DocumentNode, DocumentPlans]] = {}


def answer(
    schema: strawberry.Schema, executor: type, document: str, *, shared: bool = False
) -> tuple[bytes, list[Any]]:
    extra: dict[str, Any] = {}
    parsed = parse(document)
    if shared:
        if document not in COMPILED:
            COMPILED[document] = (parsed, DocumentPlans())
        parsed, extra["plans"] = COMPILED[document]

    async def run() -> Any:
        result = execute(
            schema._schema,
            parsed,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            executor_class=executor,
            **extra,
        )
        return await result if optimized_is_awaitable(result) else result

    result = asyncio.run(run())
    return orjson.dumps(result.data), [e.formatted for e in result.errors or []]


@pytest.fixture
def collected_here() -> Iterator[None]:
    """Collect garbage before the test ends: the coroutines graphql-core leaves unawaited
    sit in reference cycles, and unclosed they warn when the collector meets them, which
    would otherwise be during whichever test runs then."""
    yield
    gc.collect()


# graphql-core leaves an async sibling's coroutine unawaited when a non-null error nulls
# its parent first; it does so on both sides alike, so that warning says nothing here.
@pytest.mark.usefixtures("collected_here")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
# The strategies nest deep enough for Hypothesis to warn that their repr is long.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    root=nodes,
    more=st.lists(st.one_of(st.none(), nodes), max_size=3),
    found=entities,
    document=selections(),
)
def test_the_lean_executor_answers_byte_for_byte_as_graphql_core(
    root: AnyNode, more: list[AnyNode | None], found: list[Any], document: str
) -> None:
    _ROOT.clear()
    _ROOT.update(node=root, nodes=more, entities=found + [None] * 4)
    reference = answer(REFERENCE, StrawberryGraphQLCoreExecutionContext, document)
    assert answer(SCHEMA, LeanExecutor, document) == reference
    # Plans compiled by an earlier example (or by the run just before) give the same.
    assert answer(SCHEMA, LeanExecutor, document, shared=True) == reference
    assert answer(SCHEMA, LeanExecutor, document, shared=True) == reference


def test_only_self_only_sync_methods_are_called_directly() -> None:
    leaf = SCHEMA._schema.type_map["Leaf"]
    node = SCHEMA._schema.type_map["Node"]
    direct = {
        f"{kind.name}.{name}"
        for kind in (leaf, node)
        for name, field in kind.fields.items()  # type: ignore[union-attr]
        if field.resolve.__qualname__.startswith("_method")
    }
    # not shout (arguments), not later (async), not pending (`info`)
    assert direct == {"Leaf.broken", "Node.first", "Node.resolved"}


def test_resolvers_of_scalar_arguments_are_called_directly() -> None:
    query = SCHEMA._schema.type_map["Query"]
    direct = {
        f"{kind.name}.{name}"
        for kind in (SCHEMA._schema.type_map["Leaf"], SCHEMA._schema.type_map["Node"], query)
        for name, field in kind.fields.items()  # type: ignore[union-attr]
        if field.resolve.__qualname__.startswith("_with_scalar_arguments")
    }
    # not _entities (a list of representations), nor those called as `self`-only methods
    assert direct == {
        "Leaf.shout",
        "Leaf.later",
        "Node.pending",
        "Query.slow",
        "Query._service",
    }


def test_only_argumentless_fields_without_resolvers_are_plain() -> None:
    leaf = SCHEMA._schema.type_map["Leaf"]
    node = SCHEMA._schema.type_map["Node"]
    assert set(leaf.extensions[PLAIN]) == set(LEAF_FIELDS + LIST_FIELDS)  # type: ignore[union-attr]
    plain = node.extensions[PLAIN]  # type: ignore[union-attr]
    assert set(plain) == {"id", "title", "leaf", "leaves", "parts", "children"}
    assert {name for name, spec in plain.items() if isinstance(spec, PlainComposite)} == {
        "leaf",
        "leaves",
        "parts",
        "children",
    }


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


async def test_selections_that_depend_on_variables_are_collected_per_request() -> None:
    _ROOT.clear()
    _ROOT.update(node=AnyNode("n1", "t", None, []), nodes=[])
    query = "query($v: Boolean!) { node { id title @include(if: $v) ...on Node @skip(if: $v) { leaves { id } } } }"
    for v in (True, False, True, False):
        result = await SCHEMA.execute(query, variable_values={"v": v})
        assert result.errors is None
        assert result.data == {
            "node": {"id": "n1", "title": "t"} if v else {"id": "n1", "leaves": []}
        }
    fixed = "{ node { id title @include(if: false) } }"
    for _ in range(2):
        assert (await SCHEMA.execute(fixed)).data == {"node": {"id": "n1"}}
    operation = SCHEMA.documents.get(fixed).document.definitions[0]  # type: ignore[union-attr]
    shared = SCHEMA.documents.get(fixed).plans.of(operation, {})  # type: ignore[arg-type]
    assert shared is not None and shared.root is not None and shared.plans
    varying = SCHEMA.documents.get(query)
    assert varying.plans.of(varying.document.definitions[0], {}) is None  # type: ignore[union-attr, arg-type]
