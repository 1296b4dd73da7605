"""Media's federation subgraph: `Tour.meeting`, `Tour.guests`, `Tour.recordings`, joining and
leaving a tour's call, inviting guests, recording, the tour library, the call's live updates.

Errors are servicekit errors, which leave with `extensions.code`.
"""

from __future__ import annotations

from servicekit.graphql import SubgraphSchema

from media.graphql.resolvers import Mutation, Query, Subscription
from media.graphql.types import Services, Tour, User

__all__ = ["Services", "build_schema"]


def build_schema() -> SubgraphSchema:
    return SubgraphSchema(
        query=Query, mutation=Mutation, subscription=Subscription, types=[Tour, User]
    )
