"""Scheduling's federation subgraph: the `Tour` entity, availability, and live updates.

Thin by design: resolvers parse arguments, call the use cases, and map domain objects to
the types (`types.py`); the operations are in `resolvers.py`. Errors are the vocabulary's,
which leave with `extensions.code` (and `extensions.field` naming the input).
"""

from __future__ import annotations

import strawberry
from servicekit.graphql import SubgraphSchema

from scheduling.graphql.context import Services
from scheduling.graphql.resolvers import Mutation, Query, Subscription
from scheduling.graphql.types import Listing, Tour, User

__all__ = ["Services", "build_schema"]


def build_schema() -> strawberry.federation.Schema:
    return SubgraphSchema(
        query=Query, mutation=Mutation, subscription=Subscription, types=[User, Listing, Tour]
    )
