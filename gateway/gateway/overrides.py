"""Progressive `@override`: which override labels a request runs with.

A supergraph of join v0.4+ may carry `@override(from:, label:)`: the field moves to the
overriding subgraph only for requests where the label is enabled. As the reference
router decides them:

- `percent(N)` (N from 0 to 100, decimals allowed) is enabled for a request with
  probability N %, drawn per request and per label from `random` (seed it in tests);
- any other label is a feature flag, enabled for every request when it is among the
  configured `enabled` labels (`GATEWAY_OVERRIDE_LABELS`), and for none otherwise.

The decided set is part of the plan cache key, so a supergraph with one percentage label
has at most two plans per operation.
"""

from __future__ import annotations

import random as random_module
import re
from collections.abc import Iterable

__all__ = ["OverrideLabels"]

_PERCENT = re.compile(r"percent\((\d+(?:\.\d+)?)\)")


class OverrideLabels:
    """Decides the enabled labels of each request for one supergraph's labels."""

    def __init__(
        self,
        labels: Iterable[str],
        *,
        enabled: Iterable[str] = (),
        random: random_module.Random | None = None,
    ) -> None:
        configured = frozenset(enabled)
        self._random = random if random is not None else random_module.Random()
        percents: list[tuple[str, float]] = []
        flags: set[str] = set()
        for label in sorted(set(labels)):
            match = _PERCENT.fullmatch(label)
            if match is not None:
                percents.append((label, float(match.group(1))))
            elif label in configured:
                flags.add(label)
        self._percents = tuple(percents)
        self._flags = frozenset(flags)
        self.active = bool(percents or flags)

    def decide(self) -> frozenset[str]:
        """The labels enabled for one request."""
        if not self._percents:
            return self._flags
        draw = self._random.random
        chosen = {label for label, percent in self._percents if draw() * 100.0 < percent}
        return self._flags | chosen if chosen else self._flags
