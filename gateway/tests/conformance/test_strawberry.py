"""The engine against strawberry federation subgraphs, as the services build theirs.

Two subgraphs (`people` owns `Person`, `notes` adds `Person.notes` and a subscription)
served by strawberry's ASGI app: HTTP for queries and graphql-transport-ws for the
subscription, so the transport is checked against strawberry's own protocol handling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
import strawberry
import uvicorn
from gateway.engine import FederatedEngine
from gateway.supergraph import Supergraph
from gateway.transport import HttpTransport
from gateway.types import GraphQLRequest, RequestContext
from starlette.applications import Starlette
from starlette.routing import Mount
from strawberry.asgi import GraphQL

NAMES = {"1": "Grace", "2": "Edsger"}
NOTES = {"1": ["compilers"], "2": ["goto", "semaphores"]}


@strawberry.federation.type(keys=["id"])
class Person:
    id: strawberry.ID
    name: str

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Person:
        return Person(id=id, name=NAMES[str(id)])


@strawberry.type
class PeopleQuery:
    @strawberry.field
    def people(self) -> list[Person]:
        return [Person(id=strawberry.ID(k), name=v) for k, v in NAMES.items()]


@strawberry.federation.type(keys=["id"], name="Person")
class NotedPerson:
    id: strawberry.ID

    @strawberry.field
    def notes(self) -> list[str]:
        return NOTES[str(self.id)]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> NotedPerson:
        return NotedPerson(id=id)


@strawberry.type
class NotesQuery:
    @strawberry.field
    def note_count(self) -> int:
        return sum(len(n) for n in NOTES.values())


@strawberry.type
class NotesSubscription:
    @strawberry.subscription
    async def noted(self, info: strawberry.Info) -> AsyncGenerator[NotedPerson, None]:
        for key in NOTES:
            await asyncio.sleep(0)
            yield NotedPerson(id=strawberry.ID(key))


people = strawberry.federation.Schema(query=PeopleQuery, types=[Person])
notes = strawberry.federation.Schema(
    query=NotesQuery, subscription=NotesSubscription, types=[NotedPerson]
)

SUPERGRAPH = """
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
{ query: Query  subscription: Subscription }

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
enum join__Graph {
  NOTES @join__graph(name: "notes", url: "http://notes.invalid/graphql")
  PEOPLE @join__graph(name: "people", url: "http://people.invalid/graphql")
}
type Query @join__type(graph: NOTES) @join__type(graph: PEOPLE) {
  people: [Person!]! @join__field(graph: PEOPLE)
  noteCount: Int! @join__field(graph: NOTES)
}
type Subscription @join__type(graph: NOTES) {
  noted: Person! @join__field(graph: NOTES)
}
type Person @join__type(graph: NOTES, key: "id") @join__type(graph: PEOPLE, key: "id") {
  id: ID!
  name: String! @join__field(graph: PEOPLE)
  notes: [String!]! @join__field(graph: NOTES)
}
"""


@pytest.fixture(scope="module")
async def engine() -> AsyncIterator[FederatedEngine]:
    app = Starlette(
        routes=[
            Mount("/people", GraphQL(people, graphql_ide=None)),
            Mount("/notes", GraphQL(notes, graphql_ide=None)),
        ]
    )
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    transport = HttpTransport({"people": f"{base}/people/", "notes": f"{base}/notes/"})
    yield FederatedEngine(Supergraph.parse(SUPERGRAPH), transport)
    await transport.close()
    server.should_exit = True
    await task


async def test_query_across_strawberry_subgraphs(engine: FederatedEngine) -> None:
    result = await engine.execute(
        GraphQLRequest("{ noteCount people { name notes } }"), RequestContext()
    )
    assert result == {
        "data": {
            "noteCount": 3,
            "people": [
                {"name": "Grace", "notes": ["compilers"]},
                {"name": "Edsger", "notes": ["goto", "semaphores"]},
            ],
        }
    }


async def test_subscription_from_a_strawberry_subgraph(engine: FederatedEngine) -> None:
    events = await engine.subscribe(
        GraphQLRequest("subscription { noted { name notes } }"),
        RequestContext(headers={"authorization": "Bearer x"}),
    )
    assert not isinstance(events, dict)
    received: list[Any] = [event async for event in events]
    assert received == [
        {"data": {"noted": {"name": "Grace", "notes": ["compilers"]}}},
        {"data": {"noted": {"name": "Edsger", "notes": ["goto", "semaphores"]}}},
    ]
