"""What planning one operation may spend, and the coded error planning fails with.

Planning is a search: a field several subgraphs resolve is tried in each (memoised per
plan), and a pathological supergraph or operation could still make that search large.
A `Budget` counts the positions planned and looks at the clock every few hundred of
them; past either ceiling planning stops with `PLAN_TOO_COMPLEX` instead of holding a
worker. It also bounds how deeply positions nest (a scratch plan costing a choice runs
inside the plan that asked), so an operation nested deeper than any real one is refused
with the same code before Python's recursion limit is anywhere near. The clock is
injected so tests can move time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Budget", "PlanningError"]


class PlanningError(Exception):
    """The operation cannot be planned over this supergraph.

    `code` says why, for clients and logs: `UNSATISFIABLE_FIELD` (no subgraph path reaches
    a field), `NON_RESOLVABLE_KEY` (the only way in is a key marked `resolvable: false`),
    `PLAN_TOO_COMPLEX` (over the planning budget), `UNSUPPORTED_OPERATION` (the supergraph
    lacks the root type) or `PLANNER_FAILURE` (a bug: an unexpected exception while planning).
    """

    def __init__(self, message: str, code: str = "UNSATISFIABLE_FIELD") -> None:
        super().__init__(message)
        self.code = code


class Budget:
    """Positions planned and time spent so far, against their ceilings."""

    __slots__ = ("_clock", "_deadline", "_max_depth", "_max_steps", "_seconds", "depth", "steps")

    def __init__(
        self,
        *,
        max_steps: int = 200_000,
        seconds: float = 2.0,
        max_depth: int = 96,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_steps = max_steps
        self._max_depth = max_depth
        self.depth = 0
        self._seconds = seconds
        self._clock = clock
        self._deadline = clock() + seconds
        self.steps = 0

    def enter(self) -> None:
        """One position deeper, and one more planned; the caller takes one off `depth` after."""
        self.depth += 1
        self.steps += 1
        if self.depth > self._max_depth:
            raise PlanningError(
                f"the operation nests deeper than {self._max_depth} planned positions",
                "PLAN_TOO_COMPLEX",
            )
        if self.steps > self._max_steps or not self.steps & 0xFF:
            self.steps -= 1
            self.spend()

    def spend(self) -> None:
        """Count one planned position; raise `PLAN_TOO_COMPLEX` past a ceiling."""
        self.steps += 1
        if self.steps > self._max_steps:
            raise PlanningError(
                f"the operation needs more than {self._max_steps} planning steps",
                "PLAN_TOO_COMPLEX",
            )
        if self.steps & 0xFF == 0 and self._clock() > self._deadline:
            raise PlanningError(
                f"planning took longer than {self._seconds:g} s", "PLAN_TOO_COMPLEX"
            )
