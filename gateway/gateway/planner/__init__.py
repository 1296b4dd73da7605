"""Query planning: from a client operation to fetches against subgraphs.

`operation.normalize` turns the validated client document into `NField`/`NFragment`
trees with fragments spread and `@skip`/`@include` decided. `QueryPlanner.plan` walks
them with a `builder.Builder` over the supergraph's join metadata and returns a `Plan`:
steps of root fetches followed by waves of `_entities` fetches, each fetch's document
printed once. The engine caches plans; the executor runs them. Planning fails only
with a `PlanningError`, whose `code` says why.
"""

from gateway.planner.budget import PlanningError
from gateway.planner.plan import Group, Plan, Step
from gateway.planner.planner import QueryPlanner

__all__ = ["Group", "Plan", "PlanningError", "QueryPlanner", "Step"]
