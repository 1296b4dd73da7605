"""Our own services' subgraphs compose: a schema change that breaks the supergraph fails here.

Each service exposes `<service>.graphql.build_schema()`; the SDL it prints is exactly what
`gateway compose` fetches from `_service { sdl }` at run time.
"""

from __future__ import annotations

import importlib
import warnings

import pytest
from gateway.compose import SubgraphSource, compose
from gateway.compose.sources import DEFAULT_SUBGRAPHS
from gateway.supergraph import Supergraph
from graphql import parse, print_schema
from graphql.language import ObjectTypeDefinitionNode, ObjectTypeExtensionNode


def service_sources() -> list[SubgraphSource]:
    sources: list[SubgraphSource] = []
    for name, url in DEFAULT_SUBGRAPHS:
        with warnings.catch_warnings():
            # This test is about the printed SDL; a service's own deprecation warnings are
            # for its own tests to catch.
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                module = importlib.import_module(f"{name}.graphql")
            except ModuleNotFoundError as exc:
                if exc.name in (name, f"{name}.graphql"):
                    continue  # that service does not exist (yet) in this checkout
                raise
            schema = module.build_schema()
            result = schema.execute_sync("{ _service { sdl } }")
        assert result.errors is None, result.errors
        sources.append(SubgraphSource(name, url, result.data["_service"]["sdl"]))
    return sources


def test_the_services_compose_into_a_supergraph_the_gateway_loads() -> None:
    sources = service_sources()
    if not sources:
        pytest.skip("no service subgraph in this checkout")
    parsed = Supergraph.parse(compose(sources))
    assert sorted(parsed.graphs.values()) == sorted(s.name for s in sources)
    api = print_schema(parsed.api_schema)
    assert "join__" not in api and "_entities" not in api
    query = parsed.api_schema.query_type
    assert query is not None
    for source in sources:
        own = {
            field.name.value
            for definition in parse(source.sdl).definitions
            if isinstance(definition, ObjectTypeDefinitionNode | ObjectTypeExtensionNode)
            and definition.name.value == "Query"
            for field in definition.fields or ()
        } - {"_entities", "_service"}
        assert own <= set(query.fields), source.name
