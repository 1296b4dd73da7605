"""Scheduling's use cases: the only code that changes tours and availability, and the one
place where what a caller may see is decided before it is read.

Commands (`commands.py`) open a unit of work (or join the one they are given, for event
consumers), load the aggregate under a row lock through the store, let the domain decide,
and commit; the store tracked the tour, so the unit of work writes its events to the outbox
in the same transaction. Overlaps are not checked here: the exclusion constraints decide,
and a violation becomes CONFLICT. Reads (`reads.py`) apply the domain's rule, then query.
No SQL and no transport types here.
"""

from __future__ import annotations

from scheduling.service.base import Clock, Policy, utcnow
from scheduling.service.commands import Commands, SendReminder
from scheduling.service.reads import Answer, ListPage, Reads

__all__ = ["Answer", "Clock", "ListPage", "Policy", "Scheduling", "SendReminder", "utcnow"]


class Scheduling(Reads, Commands):
    """Every use case of scheduling, on one object the adapters share."""
