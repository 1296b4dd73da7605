"""The cyclic garbage collector tuned for a process answering requests.

An answer is a tree of dicts and lists, freed by reference counting as soon as it is
sent; the cyclic collector finds nothing in it. With Python's defaults (a young-generation
collection every 700 container allocations) a gateway parsing and merging large subgraph
answers for many requests in flight spends much of its CPU walking them: every collection
traverses the answers still in flight, and objects that survive two are promoted and
walked again by the full collections (on the public benchmark's deep query, at 50
clients, collection was over a third of the process's CPU). So the gateway collects far
less often, and freezes what it loaded at start (modules, the supergraph, the plans'
machinery) so that no collection walks it again.
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
