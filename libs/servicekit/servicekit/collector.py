"""The cyclic garbage collector tuned for a process answering requests (every service and
the gateway).

A request's objects — parsed bodies, rows, answers, the framework's per-request state —
are trees freed by reference counting as soon as the answer is sent; the cyclic collector
finds little in them. With Python's defaults (a young-generation collection every 700
container allocations) a process with many requests in flight spends much of its CPU
walking them: every collection traverses what is still in flight, and objects that survive
two are promoted and walked again by the full collections, over everything the process
loaded (ORM mappers, GraphQL schemas, botocore's service models). On the gateway's deep
benchmark query collection was over a third of the CPU; in media, 50 devices joining at
once spent ~60% of the CPU of their joins in it. So a process collects far less often,
and freezes what it loaded at start so that no collection walks it again.
"""

from __future__ import annotations

import gc

__all__ = ["tune_collector"]


def tune_collector(young_threshold: int) -> None:
    """Freeze everything alive now and collect the young generation every `young_threshold`
    allocations (older generations as by default); 0 leaves Python's defaults.

    Once per process: when the threshold is already set (an app started before in this
    process, as in tests), nothing more is frozen, so objects of apps that came and went
    are not kept out of collection."""
    if young_threshold <= 0 or gc.get_threshold()[0] == young_threshold:
        return
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
