"""Composing what our services really print: strawberry federation subgraphs.

Three tiny strawberry subgraphs shaped like ours (identity owns `User`, listings owns
`Listing` and refers to `User`, scheduling owns `Tour`, extends `Listing` and keeps an
unresolvable `User` stub) are printed through `{ _service { sdl } }`, composed, and the
supergraph is read back by the gateway's own `Supergraph.parse` to check the API schema
clients will see. Classes live at module level because strawberry resolves annotations
there; each subgraph's view of a shared type gets its own Python name and `name=`.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator

import strawberry
from gateway.compose import SubgraphSource, compose
from gateway.supergraph import Supergraph
from graphql import print_schema
from strawberry.federation import Schema
from strawberry.federation.schema_directives import Key

# -- identity -------------------------------------------------------------------------


@strawberry.enum(name="Role", description="What a user may do")
class IdentityRole(enum.Enum):
    BUYER = "BUYER"
    REALTOR = "REALTOR"


@strawberry.federation.type(name="User", keys=["id"], description="A person using the platform")
class IdentityUser:
    id: strawberry.ID
    email: str = strawberry.federation.field(inaccessible=True)
    display_name: str = strawberry.field(description="Name shown to others")
    role: IdentityRole


@strawberry.type(name="Query")
class IdentityQuery:
    @strawberry.field
    def me(self) -> IdentityUser | None:
        return None


# -- listings -------------------------------------------------------------------------


@strawberry.federation.type(name="User", keys=["id"])
class ListingsUser:
    id: strawberry.ID


@strawberry.federation.type(name="Money", shareable=True)
class ListingsMoney:
    amount: int
    currency: str


@strawberry.federation.type(name="Listing", keys=["id"])
class ListingsListing:
    id: strawberry.ID
    title: str
    price: ListingsMoney
    realtor: ListingsUser


@strawberry.input(name="ListingFilter")
class ListingsFilter:
    city: str | None = None
    min_price: int | None = None


@strawberry.type(name="Query")
class ListingsQuery:
    @strawberry.field
    def listing(self, id: strawberry.ID) -> ListingsListing | None:
        return None

    @strawberry.field
    def listings(
        self, filter: ListingsFilter | None = None, first: int = 20
    ) -> list[ListingsListing]:
        return []


@strawberry.type(name="Mutation")
class ListingsMutation:
    @strawberry.mutation
    def delete_listing(self, id: strawberry.ID) -> bool:
        return True


# -- scheduling -----------------------------------------------------------------------


@strawberry.federation.type(name="User", keys=[Key(fields="id", resolvable=False)])
class SchedulingUser:
    id: strawberry.ID


@strawberry.federation.type(name="Tour", keys=["id"])
class SchedulingTour:
    id: strawberry.ID
    listing: SchedulingListing
    buyer: SchedulingUser


@strawberry.federation.type(name="Listing", keys=["id"], extend=True)
class SchedulingListing:
    id: strawberry.ID = strawberry.federation.field(external=True)

    @strawberry.field
    def tours(self) -> list[SchedulingTour]:
        return []


@strawberry.type(name="Query")
class SchedulingQuery:
    @strawberry.field
    def tour(self, id: strawberry.ID) -> SchedulingTour | None:
        return None


@strawberry.type(name="Subscription")
class SchedulingSubscription:
    @strawberry.subscription
    async def tour_changed(self, id: strawberry.ID) -> AsyncGenerator[SchedulingTour, None]:
        if False:  # pragma: no cover - the schema is only printed
            yield SchedulingTour(
                id=id, listing=SchedulingListing(id=id), buyer=SchedulingUser(id=id)
            )


def identity() -> Schema:
    return Schema(query=IdentityQuery)


def listings() -> Schema:
    return Schema(query=ListingsQuery, mutation=ListingsMutation, types=[ListingsUser])


def scheduling() -> Schema:
    return Schema(query=SchedulingQuery, subscription=SchedulingSubscription)


def service_sdl(schema: Schema) -> str:
    """The SDL exactly as the subgraph serves it from `{ _service { sdl } }`."""
    result = schema.execute_sync("{ _service { sdl } }")
    assert result.errors is None
    assert result.data is not None
    return str(result.data["_service"]["sdl"])


def sources() -> list[SubgraphSource]:
    return [
        SubgraphSource("identity", "http://127.0.0.1:4001/graphql", service_sdl(identity())),
        SubgraphSource("listings", "http://127.0.0.1:4002/graphql", service_sdl(listings())),
        SubgraphSource("scheduling", "http://127.0.0.1:4003/graphql", service_sdl(scheduling())),
    ]


def test_printed_strawberry_sdl_is_what_we_expect_to_read() -> None:
    """Guard the input format: strawberry prints `schema @link` and an `extend type` stub."""
    sdl = service_sdl(scheduling())
    assert sdl.startswith('schema @link(url: "https://specs.apollo.dev/federation/v2.')
    assert 'extend type Listing @key(fields: "id") {\n  id: ID! @external\n' in sdl
    assert "_entities(representations: [_Any!]!): [_Entity]!" in sdl
    assert service_sdl(scheduling()) == scheduling().as_str()


def test_strawberry_subgraphs_compose() -> None:
    supergraph = compose(sources())
    assert (
        "type Listing\n"
        '  @join__type(graph: LISTINGS, key: "id")\n'
        '  @join__type(graph: SCHEDULING, key: "id", extension: true)\n'
        "{\n"
        "  id: ID!\n"
        "  title: String! @join__field(graph: LISTINGS)\n"
        "  price: Money! @join__field(graph: LISTINGS)\n"
        "  realtor: User! @join__field(graph: LISTINGS)\n"
        "  tours: [Tour!]! @join__field(graph: SCHEDULING)\n"
        "}\n"
    ) in supergraph
    assert (
        '"""A person using the platform"""\n'
        "type User\n"
        '  @join__type(graph: IDENTITY, key: "id")\n'
        '  @join__type(graph: LISTINGS, key: "id")\n'
        '  @join__type(graph: SCHEDULING, key: "id", resolvable: false)\n'
        "{\n"
        "  id: ID!\n"
        "  email: String! @inaccessible @join__field(graph: IDENTITY)\n"
    ) in supergraph
    assert "type Subscription\n  @join__type(graph: SCHEDULING)\n{\n" in supergraph
    for machinery in ("_entities", "_service", "_Any", "_Entity", "_Service"):
        assert machinery not in supergraph


# The gateway's own incremental delivery directives come first (printed by name).
API_SCHEMA = '''directive @defer(label: String, if: Boolean! = true) on FRAGMENT_SPREAD | INLINE_FRAGMENT

directive @stream(label: String, if: Boolean! = true, initialCount: Int = 0) on FIELD

type Listing {
  id: ID!
  title: String!
  price: Money!
  realtor: User!
  tours: [Tour!]!
}

input ListingFilter {
  city: String = null
  minPrice: Int = null
}

type Money {
  amount: Int!
  currency: String!
}

type Mutation {
  deleteListing(id: ID!): Boolean!
}

type Query {
  me: User
  listing(id: ID!): Listing
  listings(filter: ListingFilter = null, first: Int! = 20): [Listing!]!
  tour(id: ID!): Tour
}

"""What a user may do"""
enum Role {
  BUYER
  REALTOR
}

type Subscription {
  tourChanged(id: ID!): Tour!
}

type Tour {
  id: ID!
  listing: Listing!
  buyer: User!
}

"""A person using the platform"""
type User {
  id: ID!

  """Name shown to others"""
  displayName: String!
  role: Role!
}'''


def test_round_trip_through_the_gateway_supergraph_loader() -> None:
    parsed = Supergraph.parse(compose(sources()))
    assert print_schema(parsed.api_schema) == API_SCHEMA
    assert parsed.graphs == {
        "IDENTITY": "identity",
        "LISTINGS": "listings",
        "SCHEDULING": "scheduling",
    }
    assert parsed.subgraph_urls["scheduling"] == "http://127.0.0.1:4003/graphql"
    assert parsed.resolving_graphs("Listing", "tours") == ["scheduling"]
    assert sorted(parsed.resolving_graphs("Listing", "id")) == ["listings", "scheduling"]
    user = parsed.graphs_of_type("User")
    assert [k.text for k in user["scheduling"].keys] == ["id"]
    assert not user["scheduling"].keys[0].resolvable
    assert parsed.graphs_of_type("Listing")["scheduling"].extension
