"""Public answers are cached and dropped exactly by our events (real engine, subgraphs, NATS)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway.app import build_app
from gateway.metrics import GatewayMetrics
from gateway.settings import GatewaySettings
from graphql import GraphQLSchema, GraphQLUnionType, build_schema, graphql
from realty.events.v1.envelope_pb2 import Envelope
from servicekit.bus.connection import Bus
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .conftest import StaticVerifier
from .test_integration import serve

pytest.importorskip("gateway.engine")

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
HEADERS = {"content-type": "application/json", "apollo-require-preflight": "1"}

SUPERGRAPH = """
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
{
  query: Query
}

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

scalar join__FieldSet
scalar link__Import

enum link__Purpose {
  SECURITY
  EXECUTION
}

enum join__Graph {
  LISTINGS @join__graph(name: "listings", url: "BASE/listings")
  USERS @join__graph(name: "users", url: "BASE/users")
}

type Query
  @join__type(graph: LISTINGS)
  @join__type(graph: USERS)
{
  listing(id: ID!): Listing @join__field(graph: LISTINGS)
  listings: [Listing!]! @join__field(graph: LISTINGS)
  me: User @join__field(graph: USERS)
}

type Listing
  @join__type(graph: LISTINGS, key: "id")
{
  id: ID!
  title: String!
  realtor: User!
}

type User
  @join__type(graph: LISTINGS, key: "id")
  @join__type(graph: USERS, key: "id")
{
  id: ID!
  name: String! @join__field(graph: USERS)
  email: String! @join__field(graph: USERS)
}
"""

PUBLIC = "Query.listing,Query.listings,Listing.*,User.id,User.name"
INVALIDATIONS = "listings.listing.updated=Listing,listings.listing.created=Listing"


@dataclass
class World:
    listings: dict[str, dict[str, Any]]
    users: dict[str, dict[str, Any]]
    fetches: list[str]


def _schema(sdl: str) -> GraphQLSchema:
    schema = build_schema(
        sdl
        + "\nscalar _Any\nunion _Entity = User\n"
        + "extend type Query { _entities(representations: [_Any!]!): [_Entity]! }\n"
    )
    entities = schema.type_map["_Entity"]
    assert isinstance(entities, GraphQLUnionType)
    entities.resolve_type = lambda obj, *_: obj["__typename"]
    return schema


def subgraphs(world: World) -> Starlette:
    listings = _schema(
        "type Query { listing(id: ID!): Listing  listings: [Listing!]! }\n"
        "type Listing { id: ID!  title: String!  realtor: User! }\ntype User { id: ID! }"
    )
    query = listings.query_type
    assert query is not None
    query.fields["listing"].resolve = lambda _r, _i, id: world.listings.get(id)
    query.fields["listings"].resolve = lambda *_: list(world.listings.values())
    query.fields["_entities"].resolve = lambda _r, _i, representations: [
        {"__typename": "User", "id": rep["id"]} for rep in representations
    ]
    users = _schema("type Query { me: User }\ntype User { id: ID!  name: String!  email: String! }")
    user_query = users.query_type
    assert user_query is not None
    user_query.fields["me"].resolve = lambda *_: None
    user_query.fields["_entities"].resolve = lambda _r, _i, representations: [
        {"__typename": "User", **world.users[rep["id"]]} for rep in representations
    ]
    schemas = {"listings": listings, "users": users}

    async def http(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        body = await request.json()
        world.fetches.append(name)
        result = await graphql(schemas[name], body["query"], variable_values=body.get("variables"))
        return JSONResponse(result.formatted)

    return Starlette(routes=[Route("/{name}", http, methods=["POST"])])


@dataclass
class Stack:
    client: httpx.AsyncClient
    world: World
    metrics: GatewayMetrics
    bus: Bus
    app: Any

    async def post(self, query: str, **headers: str) -> httpx.Response:
        return await self.client.post(
            "/graphql", json={"query": query}, headers={**HEADERS, **headers}
        )

    async def get(self, query: str, **headers: str) -> httpx.Response:
        return await self.client.get(
            "/graphql", params={"query": query}, headers={**HEADERS, **headers}
        )

    async def announce(self, subject: str, subject_id: str) -> None:
        """Publish an event as a service's outbox relay would, and wait until it was heard."""
        before = self.metrics.value("gateway_response_cache_invalidations_total", what="events")
        envelope = Envelope(
            id=str(uuid.uuid4()),
            type="realty.listings.v1.ListingUpdated",
            subject=subject,
            subject_id=subject_id,
            source="listings",
        )
        await self.bus.publish(subject, envelope.SerializeToString(), msg_id=envelope.id)
        await until(
            lambda: (
                self.metrics.value("gateway_response_cache_invalidations_total", what="events")
                > before
            )
        )

    def hits(self) -> float:
        return self.metrics.value("gateway_response_cache_total", result="hit")


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a condition that must become true (never used to prove an absence)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def running(tmp_path: Path, **settings: Any) -> AsyncIterator[Stack]:
    """The gateway on the two subgraphs with its caches and NATS (`settings` override)."""
    world = World(
        listings={
            "l1": {"id": "l1", "title": "Loft by the river", "realtor": {"id": "u1"}},
            "l2": {"id": "l2", "title": "Garden flat", "realtor": {"id": "u1"}},
        },
        users={"u1": {"id": "u1", "name": "Ada", "email": "ada@example.com"}},
        fetches=[],
    )
    sub_server, sub_task, address = await serve(subgraphs(world))
    path = tmp_path / "supergraph.graphql"
    path.write_text(SUPERGRAPH.replace("BASE", f"http://{address}"))
    namespace = f"t{uuid.uuid4().hex[:10]}"
    bus = Bus(NATS_URL, namespace=namespace, name="test-gateway-cache")
    await bus.connect()
    metrics = GatewayMetrics()
    chosen: dict[str, Any] = {
        "cache_public_fields": PUBLIC.split(","),
        "cache_invalidations": INVALIDATIONS,
        **settings,
    }
    gateway_settings = GatewaySettings(
        supergraph_path=path, reload_interval=0, rate_limit_per_second=0, **chosen
    )
    app = build_app(
        gateway_settings, verifier=StaticVerifier(), redis=None, metrics=metrics, bus=bus
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
        ):
            await until(lambda: app.state.invalidations.live)
            yield Stack(client, world, metrics, bus, app)
    finally:
        js = await bus.connect()
        for info in await js.streams_info():
            if info.config.name and info.config.name.startswith(namespace.upper()):
                await js.delete_stream(info.config.name)
        await bus.close()
        sub_server.should_exit = True
        await sub_task


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path) as running_stack:
        yield running_stack


LISTING = '{ listing(id: "ID") { id title realtor { id name } } }'


async def test_a_public_answer_is_served_from_the_cache(stack: Stack) -> None:
    first = await stack.post(LISTING.replace("ID", "l1"))
    fetched = len(stack.world.fetches)
    second = await stack.post(LISTING.replace("ID", "l1"))
    assert second.content == first.content
    assert first.json()["data"]["listing"]["title"] == "Loft by the river"
    assert stack.hits() == 1
    assert len(stack.world.fetches) == fetched == 2  # listings, then users


async def test_an_update_event_drops_exactly_that_listing(stack: Stack) -> None:
    await stack.post(LISTING.replace("ID", "l1"))
    await stack.post(LISTING.replace("ID", "l2"))
    stack.world.listings["l1"]["title"] = "Loft, renovated"
    stack.world.listings["l2"]["title"] = "changed without an event"
    await stack.announce("listings.listing.updated", "l1")
    assert (await stack.post(LISTING.replace("ID", "l1"))).json()["data"]["listing"][
        "title"
    ] == "Loft, renovated"
    # l2 heard no event: still the cached answer (a hit), not what the subgraph says now.
    assert (await stack.post(LISTING.replace("ID", "l2"))).json()["data"]["listing"][
        "title"
    ] == "Garden flat"
    assert stack.hits() == 1


async def test_a_list_is_dropped_by_an_event_on_any_listing(stack: Stack) -> None:
    query = "{ listings { id title } }"
    assert len((await stack.post(query)).json()["data"]["listings"]) == 2
    stack.world.listings["l3"] = {"id": "l3", "title": "New build", "realtor": {"id": "u1"}}
    await stack.announce("listings.listing.created", "l3")
    assert len((await stack.post(query)).json()["data"]["listings"]) == 3
    assert stack.hits() == 0


async def test_a_missing_listing_is_dropped_when_any_listing_changes(stack: Stack) -> None:
    assert (await stack.post(LISTING.replace("ID", "l9"))).json() == {"data": {"listing": None}}
    stack.world.listings["l9"] = {"id": "l9", "title": "Published", "realtor": {"id": "u1"}}
    await stack.announce("listings.listing.created", "l9")
    assert (await stack.post(LISTING.replace("ID", "l9"))).json()["data"]["listing"] == {
        "id": "l9",
        "title": "Published",
        "realtor": {"id": "u1", "name": "Ada"},
    }


async def test_nothing_asked_with_credentials_is_cached(stack: Stack) -> None:
    for _ in range(2):
        response = await stack.post(
            LISTING.replace("ID", "l1"), authorization="Bearer good-u1-realtor"
        )
        assert response.status_code == 200
    assert stack.hits() == 0
    assert stack.world.fetches == ["listings", "users"] * 2


async def test_an_operation_with_a_non_public_field_is_not_cached(stack: Stack) -> None:
    query = '{ listing(id: "l1") { id realtor { id email } } }'
    first = await stack.get(query)
    second = await stack.get(query)
    assert second.json() == first.json()
    assert stack.hits() == 0
    assert first.headers["cache-control"] == "no-store"


async def test_public_get_answers_tell_cdns_how_long_to_keep_them(stack: Stack) -> None:
    public = await stack.get(LISTING.replace("ID", "l1"))
    assert public.headers["cache-control"] == "public, max-age=10"
    private = await stack.get(LISTING.replace("ID", "l1"), authorization="Bearer good-u1-realtor")
    assert private.headers["cache-control"] == "no-store"
    posted = await stack.post(LISTING.replace("ID", "l1"))
    assert "cache-control" not in posted.headers


async def test_an_answer_fetched_across_an_event_is_not_kept(stack: Stack) -> None:
    """The event arrives while the answer it makes stale is on its way: it is not stored."""
    cache = stack.app.state.responses.cache
    key_query = LISTING.replace("ID", "l1")
    await stack.post(key_query)  # cached
    await stack.announce("listings.listing.updated", "l1")
    from gateway.caching.policy import CachePolicy, Position

    policy = CachePolicy((Position(("listing",), "Listing", "id", False),))
    lookup = cache.lookup(("probe",), policy)
    cache.invalidate("Listing", "l1")  # while that fetch was out
    assert not cache.store(lookup, b"{}", {("Listing", "l1")})
    assert cache.store(cache.lookup(("probe",), policy), b"{}", {("Listing", "l1")})
