"""Query planning: from a client operation to fetches against subgraphs."""

from gateway.planner.builder import PlanningError
from gateway.planner.plan import Group, Plan, Step
from gateway.planner.planner import QueryPlanner

__all__ = ["Group", "Plan", "PlanningError", "QueryPlanner", "Step"]
