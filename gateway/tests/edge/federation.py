"""Two small federated subgraphs (users, reviews) served over real HTTP and WebSocket.

Used by the integration tests to run the real engine behind the real server; the
supergraph is written by hand in the join__ format, with the subgraphs' URLs filled in.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    graphql,
    parse,
    subscribe,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

USERS = {
    "u1": {"id": "u1", "name": "Ada", "nickname": "ada"},
    "u2": {"id": "u2", "name": "Bo", "nickname": "bo"},
}
REVIEWS = [
    {"id": "r1", "body": "Lovely light", "author": {"id": "u1"}},
    {"id": "r2", "body": "Noisy street", "author": {"id": "u2"}},
]

SUPERGRAPH = """
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
{
  query: Query
  subscription: Subscription
}

directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

scalar join__FieldSet
scalar link__Import

enum link__Purpose {
  SECURITY
  EXECUTION
}

enum join__Graph {
  REVIEWS @join__graph(name: "reviews", url: "BASE/reviews")
  USERS @join__graph(name: "users", url: "BASE/users")
}

type Query
  @join__type(graph: REVIEWS)
  @join__type(graph: USERS)
{
  me: User @join__field(graph: USERS)
  topReviews: [Review!]! @join__field(graph: REVIEWS)
}

type Subscription
  @join__type(graph: REVIEWS)
{
  reviewAdded: Review! @join__field(graph: REVIEWS)
}

type User
  @join__type(graph: REVIEWS, key: "id")
  @join__type(graph: USERS, key: "id")
{
  id: ID!
  name: String! @join__field(graph: USERS)
  EXTRA
  reviews: [Review!]! @join__field(graph: REVIEWS)
}

type Review
  @join__type(graph: REVIEWS)
{
  id: ID!
  body: String!
  author: User!
}
"""


def supergraph(base: str, *, with_nickname: bool = False) -> str:
    extra = "nickname: String! @join__field(graph: USERS)" if with_nickname else ""
    return SUPERGRAPH.replace("BASE", base).replace("EXTRA", extra)


def _schema(sdl: str, entity: str) -> GraphQLSchema:
    schema = build_schema(
        sdl
        + "\nscalar _Any\n"
        + f"union _Entity = {entity}\n"
        + "extend type Query { _entities(representations: [_Any!]!): [_Entity]! }\n"
    )
    entities = schema.type_map["_Entity"]
    assert isinstance(entities, GraphQLUnionType)
    entities.resolve_type = lambda obj, *_: obj["__typename"]
    return schema


def _users() -> GraphQLSchema:
    schema = _schema(
        "type Query { me: User }\ntype User { id: ID!  name: String!  nickname: String! }", "User"
    )
    query = schema.query_type
    assert query is not None

    def me(_root: Any, info: Any) -> Any:
        authorization = info.context.get("authorization", "")
        return (
            USERS.get(authorization.rsplit("-", 2)[-2])
            if authorization.startswith("Bearer good-")
            else None
        )

    query.fields["me"].resolve = me
    query.fields["_entities"].resolve = lambda _r, _i, representations: [
        {"__typename": "User", **USERS[rep["id"]]} for rep in representations
    ]
    return schema


def _reviews() -> GraphQLSchema:
    schema = _schema(
        "type Query { topReviews: [Review!]! }\n"
        "type Subscription { reviewAdded: Review! }\n"
        "type Review { id: ID!  body: String!  author: User! }\n"
        "type User { id: ID!  reviews: [Review!]! }",
        "User",
    )
    query = schema.query_type
    assert query is not None and isinstance(schema.type_map["User"], GraphQLObjectType)
    query.fields["topReviews"].resolve = lambda *_: REVIEWS
    query.fields["_entities"].resolve = lambda _r, _i, representations: [
        {"__typename": "User", "id": rep["id"]} for rep in representations
    ]
    schema.type_map["User"].fields["reviews"].resolve = lambda user, _i: [
        r for r in REVIEWS if r["author"]["id"] == user["id"]
    ]

    async def review_added(*_: Any) -> AsyncIterator[Any]:
        for review in REVIEWS:
            await asyncio.sleep(0)
            yield review

    subscription = schema.subscription_type
    assert subscription is not None
    subscription.fields["reviewAdded"].subscribe = review_added
    subscription.fields["reviewAdded"].resolve = lambda event, _info: event
    return schema


@dataclass
class Traffic:
    """The headers each subgraph received, in order."""

    headers: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def subgraphs_app(traffic: Traffic) -> Starlette:
    schemas = {"users": _users(), "reviews": _reviews()}

    async def http(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        body = await request.json()
        headers = dict(request.headers)
        traffic.headers.append((name, headers))
        result = await graphql(
            schemas[name],
            body["query"],
            variable_values=body.get("variables"),
            context_value=headers,
        )
        return JSONResponse(result.formatted)

    async def ws(socket: WebSocket) -> None:
        schema = schemas[socket.path_params["name"]]
        await socket.accept(subprotocol="graphql-transport-ws")
        await socket.receive_json()
        await socket.send_json({"type": "connection_ack"})
        message = await socket.receive_json()
        payload = message["payload"]
        outcome = subscribe(
            schema, parse(payload["query"]), variable_values=payload.get("variables")
        )
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if isinstance(outcome, ExecutionResult):
            await socket.send_json(
                {"id": message["id"], "type": "error", "payload": outcome.formatted["errors"]}
            )
            return
        try:
            async for event in outcome:
                await socket.send_json(
                    {"id": message["id"], "type": "next", "payload": event.formatted}
                )
            await socket.send_json({"id": message["id"], "type": "complete"})
            await socket.close()
        except WebSocketDisconnect:
            pass

    return Starlette(
        routes=[Route("/{name}", http, methods=["POST"]), WebSocketRoute("/{name}", ws)]
    )
