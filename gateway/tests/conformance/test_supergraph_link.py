"""Supergraphs as today's composition writes them: link v1.0 with join v0.4 and v0.5.

join v0.4 adds `overrideLabel` (progressive `@override`) and `@join__directive`; v0.5
adds `contextArguments` with the `context/v0.1` spec (`@context`, `@fromContext`). The
SDL below is laid out exactly as Apollo composition prints it.
"""

from __future__ import annotations

import pytest
from gateway.compose import SubgraphSource, compose
from gateway.supergraph import ContextArgument, Supergraph, SupergraphError
from graphql import print_schema

HEAD = """schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/context/v0.1", for: SECURITY)
{
  query: Query
}

directive @context(name: String!) repeatable on INTERFACE | OBJECT | UNION

directive @context__fromContext(field: context__ContextFieldValue) on ARGUMENT_DEFINITION

directive @join__directive(graphs: [join__Graph!], name: String!, args: join__DirectiveArguments) repeatable on SCHEMA | OBJECT | INTERFACE | FIELD_DEFINITION

directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean, overrideLabel: String, contextArguments: [join__ContextArgument!]) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION

directive @join__graph(name: String!, url: String!) on ENUM_VALUE

directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE

directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR

directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION

directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

scalar context__ContextFieldValue

input join__ContextArgument {
  name: String!
  type: String!
  context: String!
  selection: join__FieldValue!
}

scalar join__DirectiveArguments

scalar join__FieldSet

scalar join__FieldValue

enum join__Graph {
  A @join__graph(name: "A", url: "http://A")
  B @join__graph(name: "B", url: "http://B")
}

scalar link__Import

enum link__Purpose {
  \"\"\"
  `SECURITY` features provide metadata necessary to securely resolve fields.
  \"\"\"
  SECURITY

  \"\"\"
  `EXECUTION` features provide metadata necessary for operation execution.
  \"\"\"
  EXECUTION
}
"""

CONTEXT_SUPERGRAPH = (
    HEAD
    + """
interface I
  @join__type(graph: A, key: "id")
  @join__type(graph: B, key: "id")
  @context(name: "A__contextI")
{
  id: ID!
  value: Int! @join__field(graph: A)
}

type P
  @join__type(graph: A, key: "id")
  @join__type(graph: B, key: "id")
{
  id: ID!
  data: String! @join__field(graph: A, contextArguments: [{context: "A__contextI", name: "onlyInA", type: "Int", selection: " { value }"}])
}

type Query
  @join__type(graph: A)
  @join__type(graph: B)
{
  start: I! @join__field(graph: B)
}

type T implements I
  @join__implements(graph: A, interface: "I")
  @join__implements(graph: B, interface: "I")
  @join__type(graph: A, key: "id")
  @join__type(graph: B, key: "id")
{
  id: ID!
  value: Int! @join__field(graph: A)
  p: P! @join__field(graph: A)
  price: Int! @join__field(graph: A, override: "B", overrideLabel: "percent(25)") @join__field(graph: B, overrideLabel: "percent(25)")
  sharedField: Int! @join__directive(graphs: [A], name: "cost", args: {weight: 3})
}
"""
)


def test_context_arguments_and_contexts_are_read() -> None:
    supergraph = Supergraph.parse(CONTEXT_SUPERGRAPH)
    join = supergraph.field_join("P", "data", "A")
    assert join is not None
    assert join.context_arguments == (
        ContextArgument(
            name="onlyInA",
            type="Int",
            context="A__contextI",
            selection=(("value", None),),
            selection_text=" { value }",
        ),
    )
    # A context on an interface is set by every object type implementing it.
    assert supergraph.contexts_of("I") == {"A__contextI"}
    assert supergraph.contexts_of("T") == {"A__contextI"}
    assert supergraph.contexts_of("P") == frozenset()


def test_api_schema_has_no_context_or_join_machinery() -> None:
    api = print_schema(Supergraph.parse(CONTEXT_SUPERGRAPH).api_schema)
    for machinery in ("context", "join__", "link__", "@link"):
        assert machinery not in api
    assert "  data: String!\n" in api  # the context argument is the subgraph's alone


def test_progressive_override_is_decided_by_the_enabled_labels() -> None:
    supergraph = Supergraph.parse(CONTEXT_SUPERGRAPH)
    assert supergraph.override_labels == {"percent(25)"}
    assert supergraph.resolving_graphs("T", "price") == ["A", "B"]  # undecided
    assert supergraph.for_labels(frozenset()).resolving_graphs("T", "price") == ["B"]
    enabled = supergraph.for_labels(frozenset({"percent(25)", "unrelated"}))
    assert enabled.resolving_graphs("T", "price") == ["A"]
    # One view per set of enabled labels, labels the supergraph does not use ignored.
    assert enabled is supergraph.for_labels(frozenset({"percent(25)"}))
    assert enabled.for_labels(frozenset()) is enabled


def test_join_v04_supergraph_loads() -> None:
    v04 = (
        CONTEXT_SUPERGRAPH.replace("join/v0.5", "join/v0.4")
        .replace(
            ', contextArguments: [{context: "A__contextI", name: "onlyInA", type: "Int", '
            'selection: " { value }"}]',
            "",
        )
        .replace(", contextArguments: [join__ContextArgument!]", "")
    )
    supergraph = Supergraph.parse(v04)
    assert supergraph.resolving_graphs("P", "data") == ["A"]
    assert supergraph.for_labels(frozenset({"percent(25)"})).resolving_graphs("T", "price") == ["A"]


def test_malformed_context_arguments_are_refused_with_the_field_named() -> None:
    broken = CONTEXT_SUPERGRAPH.replace('name: "onlyInA", ', "")
    with pytest.raises(SupergraphError, match=r"P\.data: contextArguments need"):
        Supergraph.parse(broken)


A = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.8",
  import: ["@key", "@context", "@fromContext", "@override"])

type Query { start: T! }

type T @key(fields: "id") @context(name: "tctx") {
  id: ID!
  prop: String!
  u: U!
}

type U @key(fields: "id") {
  id: ID!
  field(a: String @fromContext(field: "$tctx { prop }")): Int!
  price: Int! @override(from: "b", label: "percent(25)")
}
"""

B = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.8", import: ["@key"])

type U @key(fields: "id") { id: ID! price: Int! b: String! }
"""


def test_compose_writes_join_v05_with_contexts_and_labels() -> None:
    sdl = compose([SubgraphSource("a", "http://a", A), SubgraphSource("b", "http://b", B)])
    assert sdl.startswith(
        "schema\n"
        '  @link(url: "https://specs.apollo.dev/link/v1.0")\n'
        '  @link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)\n'
        '  @link(url: "https://specs.apollo.dev/context/v0.1", for: SECURITY)\n'
    )
    assert '  @context(name: "a__tctx")\n' in sdl
    assert (
        '  field: Int! @join__field(graph: A, contextArguments: [{context: "a__tctx", '
        'name: "a", type: "String", selection: " { prop }"}])\n'
    ) in sdl
    assert (
        '  price: Int! @join__field(graph: A, override: "b", overrideLabel: "percent(25)") '
        '@join__field(graph: B, overrideLabel: "percent(25)")\n'
    ) in sdl
    supergraph = Supergraph.parse(sdl)
    assert supergraph.contexts_of("T") == {"a__tctx"}
    assert supergraph.for_labels(frozenset()).resolving_graphs("U", "price") == ["b"]
