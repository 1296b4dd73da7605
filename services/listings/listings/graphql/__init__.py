"""The listings subgraph (strawberry): the `Listing` entity, `User.listings`, search and the
mutations. `context.py` holds what resolvers share, `types.py`/`inputs.py` the GraphQL
types, `entities.py` the federation entities, `resolvers.py` the queries and mutations."""

from __future__ import annotations

import strawberry
from servicekit.graphql import SubgraphSchema

from listings.graphql.context import Services
from listings.graphql.entities import Listing, User
from listings.graphql.resolvers import Mutation, Query

__all__ = ["Services", "build_schema"]


def build_schema() -> strawberry.federation.Schema:
    return SubgraphSchema(query=Query, mutation=Mutation, types=[Listing, User])
