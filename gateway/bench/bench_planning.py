"""Cold planning time per operation: our supergraph, the corpus's and a synthetic worst case.

"Our supergraph" is the services' subgraphs composed (as `make supergraph` does, from
each service's printed SDL); its operations are the tour page, whole and with the
recordings and the meeting deferred (`@defer` plans a part of its own per fragment).

Each figure is the fastest and the median of repeated `QueryPlanner.plan` calls (plans
are never cached here; each call plans from scratch), after one warm-up call. On a shared
machine the fastest run is the steadier figure to compare. The synthetic supergraph is
built to make the planner's search as wide as it gets: `SUBGRAPHS` subgraphs that all
know every entity type of a `DEPTH`-long chain under the same key, each resolving one
field of its own on every type, so at every level every field but one leaves the current
subgraph and each candidate subgraph is costed.

    .venv/bin/pytest -q -s -o python_files='bench_*.py' -o python_functions='bench_*' \
        --timeout=0 gateway/bench -k plan
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

CORPUS = Path(__file__).parents[1] / "tests" / "conformance" / "supergraph.graphql"
REPEAT = int(os.environ.get("BENCH_PLAN_REPEAT", "30"))
SUBGRAPHS = int(os.environ.get("BENCH_PLAN_SUBGRAPHS", "8"))
DEPTH = int(os.environ.get("BENCH_PLAN_DEPTH", "6"))

OUR_OPERATIONS = {
    "tour page": (
        '{ tour(id: "t1") { id status startsAt listing { title price { amount currency } '
        "realtor { displayName } } buyer { displayName } meeting { id active } "
        "recordings { id status playbackUrl } } }"
    ),
    "tour page, media deferred": (
        '{ tour(id: "t1") { id status startsAt listing { title price { amount currency } '
        "realtor { displayName } } buyer { displayName } "
        "... @defer { meeting { id active } recordings { id status playbackUrl } } } }"
    ),
}

CORPUS_OPERATIONS = {
    "one subgraph": "{ me { name username address { city } } }",
    "two entity hops": "{ topReviews { body author { name } product { name inStock } } }",
    "requires + provides": (
        "{ topProducts(first: 3) { name shippingEstimate deliveryNote reviews { body } } }"
    ),
}

_LINK = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", '
    'import: ["@key", "@shareable"])\n'
)


def synthetic_sources(subgraphs: int, depth: int) -> list[Any]:
    """`subgraphs` subgraphs over a `depth`-long chain of entities T0 -> T1 -> ..."""
    from gateway.compose import SubgraphSource

    sources = []
    for index in range(subgraphs):
        types = []
        for level in range(depth):
            link = f"  next: T{level + 1} @shareable\n" if level + 1 < depth else ""
            types.append(
                f'type T{level} @key(fields: "id") {{\n  id: ID!\n  f{index}: Int\n{link}}}\n'
            )
        sdl = _LINK + "type Query { root: T0 @shareable }\n" + "".join(types)
        sources.append(SubgraphSource(f"s{index}", f"http://s{index}.invalid", sdl))
    return sources


def synthetic_operation(subgraphs: int, depth: int) -> str:
    fields = " ".join(f"f{index}" for index in range(subgraphs))
    text = fields
    for _ in range(depth - 1):
        text = f"{fields} next {{ {text} }}"
    return f"{{ root {{ {text} }} }}"


def our_supergraph() -> str | None:
    """The services' subgraphs composed, or None where no service imports in this checkout."""
    import importlib
    import warnings

    from gateway.compose import SubgraphSource, compose
    from gateway.compose.sources import DEFAULT_SUBGRAPHS

    sources = []
    for name, url in DEFAULT_SUBGRAPHS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                module = importlib.import_module(f"{name}.graphql")
            except ModuleNotFoundError:
                continue
            result = module.build_schema().execute_sync("{ _service { sdl } }")
        if result.data:
            sources.append(SubgraphSource(name, url, result.data["_service"]["sdl"]))
    return compose(sources) if sources else None


def _timings_ms(planner: Any, query: str) -> str:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    planner.plan(operation, fragments, {})
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        planner.plan(operation, fragments, {})
        times.append(time.perf_counter() - started)
    return f"{min(times) * 1000:8.3f} {statistics.median(times) * 1000:8.3f}"


def report() -> None:
    from gateway.compose import compose
    from gateway.planner import QueryPlanner
    from gateway.supergraph import Supergraph

    print(f"cold planning time per operation, ms (fastest, median of {REPEAT} plans):")
    ours = our_supergraph()
    if ours is not None:
        planner = QueryPlanner(Supergraph.parse(ours))
        for name, query in OUR_OPERATIONS.items():
            try:
                figures = _timings_ms(planner, query)
            except Exception as error:  # an older gateway without @defer, say
                figures = f"not planned ({type(error).__name__})"
            print(f"  ours, {name:<40} {figures}")
    corpus = QueryPlanner(Supergraph.parse(CORPUS.read_text()))
    for name, query in CORPUS_OPERATIONS.items():
        print(f"  corpus, {name:<38} {_timings_ms(corpus, query)}")
    synthetic = QueryPlanner(Supergraph.parse(compose(synthetic_sources(SUBGRAPHS, DEPTH))))
    label = f"synthetic, {SUBGRAPHS} subgraphs x depth {DEPTH}"
    query = synthetic_operation(SUBGRAPHS, DEPTH)
    print(f"  {label:<46} {_timings_ms(synthetic, query)}")


def bench_planning_time() -> None:
    # A process of its own, where `gateway` imports as the installed package.
    done = subprocess.run(
        [sys.executable, __file__], capture_output=True, text=True, timeout=600, check=False
    )
    print()
    print(done.stdout, end="")
    assert done.returncode == 0, done.stderr[-3000:]


if __name__ == "__main__":
    report()
