"""The conformance corpus's subgraphs: six small federated services answering from memory.

Each is a graphql-core schema with `_entities` added, served over HTTP POST and
graphql-transport-ws by one Starlette app (one path per subgraph), so the gateway is
tested through real HTTP. `supergraph.graphql` beside this file is their composition.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLInterfaceType,
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

Resolver = Callable[..., Any]


@dataclass
class Subgraph:
    name: str
    sdl: str
    entities: dict[str, Callable[[dict[str, Any]], Any]]  # typename -> resolve reference
    resolvers: dict[str, dict[str, Resolver]] = field(default_factory=dict)
    subscriptions: dict[str, Callable[..., AsyncIterator[Any]]] = field(default_factory=dict)
    schema: GraphQLSchema = field(init=False)
    entity_calls: list[list[dict[str, Any]]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        entity_types = " | ".join(
            name for name in self.entities if "type " + name + " " in self.sdl
        )
        sdl = self.sdl + "\nscalar _Any\n"
        if entity_types:
            sdl += f"union _Entity = {entity_types}\n"
            sdl += "extend type Query { _entities(representations: [_Any!]!): [_Entity]! }\n"
        self.schema = build_schema(sdl)
        for type_name, fields in self.resolvers.items():
            gtype = self.schema.type_map[type_name]
            assert isinstance(gtype, GraphQLObjectType)
            for field_name, resolver in fields.items():
                gtype.fields[field_name].resolve = resolver
        for name, generator in self.subscriptions.items():
            subscription = self.schema.subscription_type
            assert subscription is not None
            subscription.fields[name].subscribe = generator
            subscription.fields[name].resolve = lambda event, _info, **_: event
        for gtype in self.schema.type_map.values():
            if isinstance(gtype, GraphQLInterfaceType | GraphQLUnionType):
                gtype.resolve_type = lambda obj, *_: obj["__typename"]
        if entity_types:
            query = self.schema.query_type
            assert query is not None
            query.fields["_entities"].resolve = self._entities

    def _entities(self, _root: Any, _info: Any, representations: list[dict[str, Any]]) -> Any:
        self.entity_calls.append(representations)
        return [self.entities[rep["__typename"]](rep) for rep in representations]


# Data --------------------------------------------------------------------------------------

USERS = {
    "u1": {
        "__typename": "User",
        "id": "u1",
        "name": "Ada Lovelace",
        "username": "@ada",
        "birthYear": 1815,
        "address": {"street": "1 Analytical Way", "city": "London"},
    },
    "u2": {
        "__typename": "User",
        "id": "u2",
        "name": "Alan Turing",
        "username": "@alan",
        "birthYear": 1912,
        "address": None,
    },
}
SELLER_RATINGS = {("s1", "EU"): 5, ("s2", "US"): 3}
PRODUCTS = [
    {
        "upc": "1",
        "sku": "sku-1",
        "name": "Table",
        "price": 899,
        "weight": 100,
        "dimensions": {"size": "large", "weight": 100},
        "category": "FURNITURE",
        "secret": "s-1",
        "seller": {"id": "s1", "region": {"code": "EU"}, "name": "Oak & Co"},
    },
    {
        "upc": "2",
        "sku": "sku-2",
        "name": "Couch",
        "price": 1299,
        "weight": 1000,
        "dimensions": {"size": "huge", "weight": 1000},
        "category": "FURNITURE",
        "secret": "s-2",
        "seller": {"id": "s2", "region": {"code": "US"}, "name": "Sofa Inc"},
    },
    {
        "upc": "3",
        "sku": "sku-3",
        "name": "Chair",
        "price": 54,
        "weight": 50,
        "dimensions": {"size": "small", "weight": 50},
        "category": "LEGACY",
        "secret": "s-3",
        "seller": None,
    },
]
STOCK = {"sku-1": True, "sku-2": False, "sku-3": True}
REVIEWS = [
    {"id": "r1", "body": "Love it!", "rating": 5, "author": "u1", "upc": "1"},
    {"id": "r2", "body": "Too expensive.", "rating": 2, "author": "u2", "upc": "1"},
    {"id": "r3", "body": "Could be worse.", "rating": 3, "author": "u1", "upc": "2"},
]
MEDIA = {
    "b1": {"__typename": "Book", "id": "b1", "title": "Dune", "pages": 412, "genre": "SCIFI"},
    "m1": {"__typename": "Movie", "id": "m1", "title": "Alien", "minutes": 117, "genre": "HORROR"},
}
BOOK_AUTHORS = {"b1": "u2"}
RATINGS = {"b1": 4.5, "m1": 3.9}


def _product(**match: Any) -> dict[str, Any] | None:
    for product in PRODUCTS:
        if all(product[k] == v for k, v in match.items()):
            return {"__typename": "Product", **product}
    return None


def _review(review: dict[str, Any]) -> dict[str, Any]:
    return {"__typename": "Review", **review}


# accounts ----------------------------------------------------------------------------------


async def _sleepy(_root: Any, _info: Any, ms: int) -> str:
    await asyncio.sleep(ms / 1000)
    return "awake"


def _update_name(_root: Any, _info: Any, id: str, name: str) -> Any:
    user = USERS.get(id)
    if user is None:
        return None
    user["name"] = name
    return user


accounts = Subgraph(
    "accounts",
    """
    type Query { me: User  user(id: ID!): User  users: [User!]!  sleepy(ms: Int!): String }
    type Mutation { updateName(id: ID!, name: String!): User }
    type User { id: ID!  name: String!  username: String!  birthYear: Int  address: Address }
    type Address { street: String!  city: String! }
    type Seller { id: ID!  region: Region!  rating: Int! }
    type Region { code: String! }
    """,
    entities={
        "User": lambda rep: USERS.get(rep["id"]),
        "Seller": lambda rep: {
            "__typename": "Seller",
            "id": rep["id"],
            "region": rep["region"],
            "rating": SELLER_RATINGS[(rep["id"], rep["region"]["code"])],
        },
    },
    resolvers={
        "Query": {
            "me": lambda *_: USERS["u1"],
            "user": lambda _r, _i, id: USERS.get(id),
            "users": lambda *_: list(USERS.values()),
            "sleepy": _sleepy,
        },
        "Mutation": {"updateName": _update_name},
    },
)


# products ----------------------------------------------------------------------------------


def _search(_root: Any, _info: Any, term: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {"__typename": "Product", **p} for p in PRODUCTS if term.lower() in p["name"].lower()
    ]
    if term.lower() in "dune":
        found.append({"__typename": "Book", "id": "b1"})
    return found


def _create_product(_root: Any, _info: Any, input: dict[str, Any]) -> dict[str, Any]:
    return {
        "__typename": "Product",
        "upc": input["upc"],
        "sku": "sku-" + input["upc"],
        "name": input["name"],
        "price": input["price"],
        "weight": 1,
        "dimensions": {"size": "tiny", "weight": 1},
        "category": "BOOKS",
        "seller": None,
    }


def _converted_price(product: dict[str, Any], _info: Any, currency: str) -> int:
    return product["price"] * {"EUR": 2, "USD": 3}[currency]


products = Subgraph(
    "products",
    """
    type Query {
      topProducts(first: Int = 5): [Product!]!
      product(upc: String!): Product
      productBySku(sku: String!): Product
      search(term: String!): [SearchResult!]!
    }
    type Mutation { createProduct(input: ProductInput!): Product! }
    input ProductInput { upc: String!  name: String!  price: Int! = 100  secretNote: String }
    type Product {
      upc: String!  sku: String!  name: String!  price: Int!  weight: Int!
      dimensions: Dimensions!  category: Category  secret: String  seller: Seller
      convertedPrice(currency: String!): Int!
    }
    type Dimensions { size: String!  weight: Int! }
    enum Category { FURNITURE BOOKS LEGACY }
    type Seller { id: ID!  region: Region!  name: String! }
    type Region { code: String! }
    type Book { id: ID! }
    union SearchResult = Product | Book
    """,
    entities={
        "Product": lambda rep: (
            _product(upc=rep["upc"]) if "upc" in rep else _product(sku=rep["sku"])
        ),
        "Book": lambda rep: {"__typename": "Book", "id": rep["id"]},
        "Seller": lambda rep: next(
            {"__typename": "Seller", **p["seller"]}
            for p in PRODUCTS
            if p["seller"] and p["seller"]["id"] == rep["id"]
        ),
    },
    resolvers={
        "Query": {
            "topProducts": lambda _r, _i, first: [
                {"__typename": "Product", **p} for p in PRODUCTS[:first]
            ],
            "product": lambda _r, _i, upc: _product(upc=upc),
            "productBySku": lambda _r, _i, sku: _product(sku=sku),
            "search": _search,
        },
        "Mutation": {"createProduct": _create_product},
        "Product": {"convertedPrice": _converted_price},
    },
)


# inventory ---------------------------------------------------------------------------------


def _inventory_product(rep: dict[str, Any]) -> dict[str, Any]:
    return {**rep, "inStock": STOCK.get(rep["sku"], False), "restockDate": "2030-01-01"}


def _shipping_estimate(product: dict[str, Any], _info: Any, zip: str | None = None) -> int:
    if "price" not in product or "weight" not in product:
        raise ValueError("shippingEstimate needs price and weight")
    estimate = 0 if product["price"] > 1000 else product["weight"] // 10
    return estimate + (len(zip) if zip else 0)


def _delivery_note(product: dict[str, Any], _info: Any) -> str:
    dimensions = product["dimensions"]
    return f"{dimensions['size']} parcel, {dimensions['weight']}g"


inventory = Subgraph(
    "inventory",
    """
    type Query { productBySku(sku: String!): Product }
    type Product {
      sku: String!  price: Int!  weight: Int!  dimensions: Dimensions!
      inStock: Boolean!  restockDate: String
      shippingEstimate(zip: String): Int  deliveryNote: String
      convertedPrice(currency: String!): Int!  exportPrice: String
    }
    type Dimensions { size: String!  weight: Int! }
    """,
    entities={"Product": _inventory_product},
    resolvers={
        "Query": {
            "productBySku": lambda _r, _i, sku: (
                _inventory_product({"__typename": "Product", "sku": sku}) if sku in STOCK else None
            )
        },
        "Product": {
            "shippingEstimate": _shipping_estimate,
            "deliveryNote": _delivery_note,
            "exportPrice": lambda product, _i: f"EUR {product['convertedPrice']}",
        },
    },
)


# reviews -----------------------------------------------------------------------------------


def _flaky(_review: Any, _info: Any) -> str:
    raise ValueError("flaky failed")


async def _review_added(_root: Any, _info: Any, upc: str | None = None) -> AsyncIterator[Any]:
    for review in REVIEWS:
        if upc is None or review["upc"] == upc:
            await asyncio.sleep(0)
            yield _review(review)


reviews = Subgraph(
    "reviews",
    """
    type Query { topReviews(first: Int): [Review!]! }
    type Mutation { addReview(upc: String!, body: String!, rating: Int!): Review! }
    type Subscription { reviewAdded(upc: String): Review! }
    type Review {
      id: ID!  body: String!  rating: Int!  author: User!  product: Product!
      flaky: String!  flakyNullable: String
    }
    type User { id: ID!  username: String!  reviews: [Review!]! }
    type Product { upc: String!  reviews: [Review!]!  deliveryNote: String  shippingLabel: String }
    """,
    entities={
        "User": lambda rep: {"__typename": "User", "id": rep["id"]},
        "Product": lambda rep: {"__typename": "Product", **rep},
        "Review": lambda rep: next(_review(r) for r in REVIEWS if r["id"] == rep["id"]),
    },
    resolvers={
        "Query": {
            "topReviews": lambda _r, _i, first=None: [_review(r) for r in REVIEWS[:first]],
        },
        "Mutation": {
            "addReview": lambda _r, _i, upc, body, rating: _review(
                {"id": "r-new", "body": body, "rating": rating, "author": "u1", "upc": upc}
            )
        },
        "Review": {
            "author": lambda review, _i: {
                "__typename": "User",
                "id": review["author"],
                "username": USERS[review["author"]]["username"],
            },
            "product": lambda review, _i: {"__typename": "Product", "upc": review["upc"]},
            "flaky": _flaky,
            "flakyNullable": _flaky,
        },
        "User": {
            "reviews": lambda user, _i: [_review(r) for r in REVIEWS if r["author"] == user["id"]],
        },
        "Product": {
            "reviews": lambda product, _i: [
                _review(r) for r in REVIEWS if r["upc"] == product["upc"]
            ],
            "shippingLabel": lambda product, _i: f"LABEL: {product['deliveryNote']}",
        },
    },
    subscriptions={"reviewAdded": _review_added},
)


# media -------------------------------------------------------------------------------------


def _media_ref(rep: dict[str, Any]) -> Any:
    found = MEDIA.get(rep["id"])
    return None if found is None else {**found, "author": _book_author(found)}


def _book_author(item: dict[str, Any]) -> Any:
    author = BOOK_AUTHORS.get(item["id"])
    return {"__typename": "User", "id": author} if author else None


media = Subgraph(
    "media",
    """
    type Query { media: [Media!]!  mediaSearch: [SearchResult!]! }
    interface Media { id: ID!  title: String! }
    type Book implements Media { id: ID!  title: String!  pages: Int!  author: User  genre: Genre! }
    type Movie implements Media { id: ID!  title: String!  minutes: Int!  genre: Genre! }
    enum Genre { SCIFI HORROR }
    union SearchResult = Book | Movie
    type User { id: ID! }
    """,
    entities={"Media": _media_ref, "Book": _media_ref, "Movie": _media_ref},
    resolvers={
        "Query": {
            "media": lambda *_: [_media_ref(m) for m in MEDIA.values()],
            "mediaSearch": lambda *_: [_media_ref(m) for m in MEDIA.values()],
        },
    },
)


# ratings -----------------------------------------------------------------------------------

ratings = Subgraph(
    "ratings",
    """
    type Query { topRated: [Media!]! }
    type Media { id: ID!  rating: Float! }
    """,
    entities={
        "Media": lambda rep: {"__typename": "Media", "id": rep["id"], "rating": RATINGS[rep["id"]]}
    },
    resolvers={
        "Query": {
            "topRated": lambda *_: [
                {"__typename": "Media", "id": key, "rating": value}
                for key, value in sorted(RATINGS.items(), key=lambda kv: -kv[1])
            ]
        }
    },
)

SUBGRAPHS = {s.name: s for s in (accounts, products, inventory, reviews, media, ratings)}

# The same subgraphs as Federation v2 SDL (what `_service { sdl }` would answer): what a
# composition of the corpus starts from. `supergraph.graphql` is written by hand from these.
_LINK = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", '
    'import: ["@key", "@shareable", "@external", "@requires", "@provides", "@override", '
    '"@inaccessible", "@interfaceObject"])\n'
)
FEDERATION_SDL = {
    "accounts": _LINK
    + """
type Query { me: User  user(id: ID!): User  users: [User!]!  sleepy(ms: Int!): String }
type Mutation { updateName(id: ID!, name: String!): User }
type User @key(fields: "id") {
  id: ID!  name: String!  username: String! @shareable  birthYear: Int @inaccessible
  address: Address
}
type Address { street: String!  city: String! }
type Seller @key(fields: "id region { code }") { id: ID!  region: Region!  rating: Int! }
type Region @shareable { code: String! }
""",
    "products": _LINK
    + """
type Query {
  topProducts(first: Int = 5): [Product!]!  product(upc: String!): Product
  productBySku(sku: String!): Product @shareable  search(term: String!): [SearchResult!]!
}
type Mutation { createProduct(input: ProductInput!): Product! }
input ProductInput { upc: String!  name: String!  price: Int! = 100  secretNote: String @inaccessible }
type Product @key(fields: "upc") @key(fields: "sku") {
  upc: String!  sku: String!  name: String!  price: Int!  weight: Int!
  dimensions: Dimensions! @shareable  category: Category  secret: String @inaccessible
  seller: Seller  convertedPrice(currency: String!): Int!  restockDate: String
}
type Dimensions @shareable { size: String!  weight: Int! }
enum Category { FURNITURE BOOKS LEGACY @inaccessible }
type Seller @key(fields: "id region { code }") { id: ID!  region: Region!  name: String! }
type Region @shareable { code: String! }
type Book @key(fields: "id") { id: ID! }
union SearchResult = Product | Book
""",
    "inventory": _LINK
    + """
type Query { productBySku(sku: String!): Product @shareable }
type Product @key(fields: "sku") {
  sku: String!  price: Int! @external  weight: Int! @external  dimensions: Dimensions! @external
  inStock: Boolean! @override(from: "products")
  restockDate: String @override(from: "products")
  shippingEstimate(zip: String): Int @requires(fields: "price weight")
  deliveryNote: String @requires(fields: "dimensions { size weight }")
  convertedPrice(currency: String!): Int! @external
  exportPrice: String @requires(fields: "convertedPrice(currency: \\"EUR\\")")
}
type Dimensions @shareable { size: String!  weight: Int! }
""",
    "reviews": _LINK
    + """
type Query { topReviews(first: Int): [Review!]! }
type Mutation { addReview(upc: String!, body: String!, rating: Int!): Review! }
type Subscription { reviewAdded(upc: String): Review! }
type Review @key(fields: "id") {
  id: ID!  body: String!  rating: Int!  author: User! @provides(fields: "username")
  product: Product!  flaky: String!  flakyNullable: String
}
type User @key(fields: "id") { id: ID!  username: String! @external  reviews: [Review!]! }
type Product @key(fields: "upc") {
  upc: String!  reviews: [Review!]!  deliveryNote: String @external
  shippingLabel: String @requires(fields: "deliveryNote")
}
""",
    "media": _LINK
    + """
type Query { media: [Media!]!  mediaSearch: [SearchResult!]! }
interface Media @key(fields: "id") { id: ID!  title: String! }
type Book implements Media @key(fields: "id") {
  id: ID!  title: String!  pages: Int!  author: User  genre: Genre!
}
type Movie implements Media @key(fields: "id") { id: ID!  title: String!  minutes: Int!  genre: Genre! }
enum Genre { SCIFI HORROR }
union SearchResult = Book | Movie
type User @key(fields: "id", resolvable: false) { id: ID! }
""",
    "ratings": _LINK
    + """
type Query { topRated: [Media!]! }
type Media @key(fields: "id") @interfaceObject { id: ID!  rating: Float! }
""",
}


# Serving -----------------------------------------------------------------------------------


@dataclass
class Traffic:
    """What the subgraphs received: HTTP bodies and headers, WebSocket init payloads."""

    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    ws_inits: list[dict[str, Any]] = field(default_factory=list)


def build_app(traffic: Traffic) -> Starlette:
    async def http(request: Request) -> JSONResponse:
        subgraph = SUBGRAPHS[request.path_params["name"]]
        body = await request.json()
        traffic.requests.append((subgraph.name, body, dict(request.headers)))
        result = await graphql(
            subgraph.schema, body["query"], variable_values=body.get("variables")
        )
        return JSONResponse(result.formatted)

    async def ws(socket: WebSocket) -> None:
        subgraph = SUBGRAPHS[socket.path_params["name"]]
        await socket.accept(subprotocol="graphql-transport-ws")
        init = await socket.receive_json()
        traffic.ws_inits.append(init)
        await socket.send_json({"type": "connection_ack"})
        message = await socket.receive_json()
        payload = message["payload"]
        result = subscribe(
            subgraph.schema, parse(payload["query"]), variable_values=payload.get("variables")
        )
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, ExecutionResult):
            await socket.send_json(
                {"id": message["id"], "type": "error", "payload": result.formatted["errors"]}
            )
            return
        with contextlib.suppress(WebSocketDisconnect):  # the gateway may stop listening early
            async for event in result:
                await socket.send_json(
                    {"id": message["id"], "type": "next", "payload": event.formatted}
                )
            await socket.send_json({"id": message["id"], "type": "complete"})
            await socket.close()

    return Starlette(
        routes=[Route("/{name}", http, methods=["POST"]), WebSocketRoute("/{name}", ws)]
    )
