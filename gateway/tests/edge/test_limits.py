"""Depth, alias, root-field and document-size limits, enforced before the engine runs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from gateway.edge.document import DocumentAnalyser
from gateway.edge.errors import EdgeError
from gateway.edge.limits import Limits, measure
from graphql import parse

STRICT = {"content-type": "application/json", "accept": "application/graphql-response+json"}


def nested(depth: int) -> str:
    """`{ nested { child { child ... { id } } } }` with `depth` levels of fields."""
    inner = "id"
    for _ in range(depth - 2):
        inner = f"child {{ {inner} }}"
    return f"{{ nested {{ {inner} }} }}"


def shape(query: str) -> Any:
    document = parse(query)
    return measure(document, document.definitions[0])  # type: ignore[arg-type]


def test_depth_counts_fields_through_fragments() -> None:
    assert shape("{ hello }").depth == 1
    assert shape(nested(5)).depth == 5
    query = "query { nested { ...A } } fragment A on Node { child { ... on Node { id } } }"
    assert shape(query).depth == 3


def test_aliases_count_every_use_of_a_fragment() -> None:
    query = "query { a: hello b: hello ...F ...F } fragment F on Query { c: hello }"
    assert shape(query).aliases == 4


def test_root_fields_include_fragments() -> None:
    query = "query { hello me ...F ... on Query { version } } fragment F on Query { slow }"
    assert shape(query).root_fields == 4


def test_fragment_cycles_do_not_hang_the_check() -> None:
    query = "query { nested { ...A } } fragment A on Node { child { ...B } } fragment B on Node { ...A }"
    assert shape(query).depth >= 2


def test_fragment_bombs_are_measured_without_expanding_them() -> None:
    fragments = ["fragment F0 on Query { a: hello }"]
    for level in range(1, 30):
        fragments.append(f"fragment F{level} on Query {{ ...F{level - 1} ...F{level - 1} }}")
    query = "query { ...F29 } " + " ".join(fragments)
    analyser = DocumentAnalyser(
        Limits(max_aliases=30, max_document_bytes=100_000), introspection=True
    )
    with pytest.raises(EdgeError) as raised:
        analyser.analyse(query, None)
    assert raised.value.extensions["reason"] == "ALIAS_LIMIT_EXCEEDED"
    assert raised.value.extensions["actual"] == 2**29


def test_introspection_does_not_count_towards_depth() -> None:
    deep = "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }"
    assert shape(deep).depth == 0


@pytest.mark.parametrize(
    ("overrides", "query", "reason"),
    [
        ({"max_depth": 4}, nested(5), "DEPTH_LIMIT_EXCEEDED"),
        ({"max_aliases": 2}, "{ a: hello b: hello c: hello }", "ALIAS_LIMIT_EXCEEDED"),
        ({"max_root_fields": 2}, "{ hello me version }", "ROOT_FIELD_LIMIT_EXCEEDED"),
        ({"max_document_bytes": 40}, "{ hello " + " " * 40 + "}", "DOCUMENT_TOO_LARGE"),
    ],
)
def test_each_limit_rejects_with_a_coded_error_before_the_engine(
    make_client: Callable[..., Any],
    engines: dict[str, Any],
    overrides: dict[str, int],
    query: str,
    reason: str,
) -> None:
    client = make_client(**overrides)
    response = client.post("/graphql", content=json.dumps({"query": query}), headers=STRICT)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["reason"] == reason
    assert error["extensions"]["actual"] > error["extensions"]["limit"]
    assert engines["v1"].calls == []


def test_queries_at_the_limit_pass(make_client: Callable[..., Any]) -> None:
    client = make_client(max_depth=5, max_aliases=3, max_root_fields=3)
    for query in (nested(5), "{ a: hello b: hello c: hello }"):
        response = client.post("/graphql", content=json.dumps({"query": query}), headers=STRICT)
        assert response.status_code == 200, response.text
        assert "errors" not in response.json()


def test_analysis_is_cached_including_failures() -> None:
    analyser = DocumentAnalyser(Limits(max_depth=2), introspection=True)
    first = analyser.analyse("{ hello }", None)
    assert analyser.analyse("{ hello }", None) is first
    with pytest.raises(EdgeError) as one:
        analyser.analyse(nested(3), None)
    with pytest.raises(EdgeError) as two:
        analyser.analyse(nested(3), None)
    assert one.value is two.value


def test_a_cached_error_does_not_accumulate_tracebacks() -> None:
    analyser = DocumentAnalyser(Limits(), introspection=True)
    depths = []
    for _ in range(5):
        try:
            analyser.analyse("{ broken", None)
        except EdgeError as error:
            frames = 0
            tb = error.__traceback__
            while tb is not None:
                frames += 1
                tb = tb.tb_next
            depths.append(frames)
    assert len(set(depths)) == 1


def bomb(levels: int) -> str:
    """A fragment that spreads the one below twice, `levels` deep: 2^levels fields, no alias."""
    fragments = ["fragment F0 on Node { id }"]
    for level in range(1, levels + 1):
        fragments.append(f"fragment F{level} on Node {{ ...F{level - 1} ...F{level - 1} }}")
    return f"query {{ nested {{ ...F{levels} }} }} " + " ".join(fragments)


def test_a_fragment_bomb_without_aliases_is_counted_exactly_and_refused() -> None:
    query = bomb(40)
    assert len(query) < 2_000
    assert shape(query).fields == 1 + 2**40
    with pytest.raises(EdgeError) as raised:
        DocumentAnalyser(Limits(), introspection=True).analyse(query, None)
    assert raised.value.extensions["reason"] == "FIELD_LIMIT_EXCEEDED"
    assert raised.value.extensions["actual"] == 1 + 2**40


def test_page_sizes_multiply_what_is_below_them() -> None:
    query = "{ a(first: 10) { b(first: 10) { c(first: 10) { id } } } }"
    assert shape(query).cost == 1 + 10 * (1 + 10 * (1 + 10 * 1))
    by_variable = "query($n: Int) { a(first: $n) { id name } }"
    document = parse(by_variable)
    assert measure(document, document.definitions[0], list_size=50).cost == 1 + 50 * 2  # type: ignore[arg-type]
    with pytest.raises(EdgeError) as raised:
        DocumentAnalyser(Limits(max_cost=1_000), introspection=True).analyse(query, None)
    assert raised.value.extensions["reason"] == "COST_LIMIT_EXCEEDED"


def test_a_bomb_is_refused_in_milliseconds_while_another_request_is_served(
    make_client: Callable[..., Any],
) -> None:
    client = make_client(max_document_bytes=100_000)
    started = time.process_time()  # CPU spent, not wall time: a busy machine does not skew it
    response = client.post("/graphql", content=json.dumps({"query": bomb(60)}), headers=STRICT)
    spent = time.process_time() - started
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["reason"] == "FIELD_LIMIT_EXCEEDED"
    assert spent < 0.5  # expanding it would take longer than the universe has existed
    ok = client.post("/graphql", content=json.dumps({"query": "{ hello }"}), headers=STRICT)
    assert ok.status_code == 200
