"""Automatic persisted queries: miss → register → hit, in memory and in Redis."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from gateway.edge.apq import MemoryAPQStore, RedisAPQStore
from redis.asyncio import Redis

from .redis_backend import RedisBackend

QUERY = "query Hello { hello }"
SHA = hashlib.sha256(QUERY.encode()).hexdigest()
HEADERS = {"content-type": "application/json"}


def persisted(sha: str = SHA) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha}}


def post(client: Any, body: dict[str, Any]) -> Any:
    return client.post("/graphql", content=json.dumps(body), headers=HEADERS)


def miss_register_hit(client: Any, engines: dict[str, Any]) -> None:
    miss = post(client, {"extensions": persisted()})
    assert miss.status_code == 200
    error = miss.json()["errors"][0]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert engines["v1"].calls == []

    register = post(client, {"query": QUERY, "extensions": persisted()})
    assert register.json() == {"data": {"hello": "hello world"}}

    hit = post(client, {"extensions": persisted()})
    assert hit.json() == {"data": {"hello": "hello world"}}
    get = client.get(
        "/graphql",
        params={"extensions": json.dumps(persisted())},
        headers={"apollo-require-preflight": "1"},
    )
    assert get.json() == {"data": {"hello": "hello world"}}
    assert engines["v1"].calls[-1][0].query == QUERY


def test_memory_store_miss_register_hit(client: Any, engines: dict[str, Any]) -> None:
    miss_register_hit(client, engines)


def test_redis_store_miss_register_hit(
    make_client: Callable[..., Any], engines: dict[str, Any], redis_backend: RedisBackend
) -> None:
    client = make_client(**redis_backend.app_options())
    miss_register_hit(client, engines)
    key = f"{redis_backend.prefix}apq:{SHA}"
    with redis_backend.sync() as raw:
        assert raw.get(key) == QUERY.encode()
        assert 0 < raw.ttl(key) <= 86_400


def test_redis_store_is_shared_between_gateways(
    make_client: Callable[..., Any], engines: dict[str, Any], redis_backend: RedisBackend
) -> None:
    first = make_client(**redis_backend.app_options())
    second = make_client(**redis_backend.app_options())
    post(first, {"query": QUERY, "extensions": persisted()})
    assert post(second, {"extensions": persisted()}).json() == {"data": {"hello": "hello world"}}


def test_hash_mismatch_is_rejected_and_not_stored(client: Any) -> None:
    wrong = "0" * 64
    response = post(client, {"query": QUERY, "extensions": persisted(wrong)})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "provided sha does not match query"
    assert (
        post(client, {"extensions": persisted(wrong)}).json()["errors"][0]["extensions"]["code"]
        == "PERSISTED_QUERY_NOT_FOUND"
    )


def test_unsupported_version_is_rejected(client: Any) -> None:
    body = {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": SHA}}}
    assert post(client, body).status_code == 400


def test_disabled_apq_answers_not_supported(make_client: Callable[..., Any]) -> None:
    client = make_client(apq_enabled=False)
    response = post(client, {"query": QUERY, "extensions": persisted()})
    error = response.json()["errors"][0]
    assert error["message"] == "PersistedQueryNotSupported"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"


def test_documents_that_fail_the_edge_are_not_remembered(make_client: Callable[..., Any]) -> None:
    client = make_client(max_aliases=1)
    query = "{ a: hello b: hello }"
    sha = hashlib.sha256(query.encode()).hexdigest()
    refused = post(client, {"query": query, "extensions": persisted(sha)})
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    retry = post(client, {"extensions": persisted(sha)})
    assert retry.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_memory_store_is_a_bounded_lru() -> None:
    store = MemoryAPQStore(max_entries=2)
    await store.put("a", "A")
    await store.put("b", "B")
    assert await store.get("a") == "A"
    await store.put("c", "C")
    assert await store.get("b") is None
    assert await store.get("a") == "A"
    assert await store.get("c") == "C"


async def test_memory_store_forgets_a_document_after_its_ttl() -> None:
    now = [0.0]
    store = MemoryAPQStore(max_entries=10, ttl_seconds=60, clock=lambda: now[0])
    await store.put("a", "A")
    now[0] = 59.0
    assert await store.get("a") == "A"
    now[0] = 60.0
    assert await store.get("a") is None


async def test_redis_store_round_trip_under_its_prefix(redis_backend: RedisBackend) -> None:
    redis = redis_backend.client()
    store = RedisAPQStore(redis, prefix=redis_backend.prefix, ttl_seconds=10)
    try:
        assert await store.get(SHA) is None
        await store.put(SHA, QUERY)
        assert await store.get(SHA) == QUERY
    finally:
        await redis.aclose()
    with redis_backend.sync() as raw:
        assert 0 < raw.ttl(f"{redis_backend.prefix}apq:{SHA}") <= 10


async def test_redis_store_reads_unreachable_redis_as_a_miss() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    store = RedisAPQStore(redis, prefix="x:", ttl_seconds=10)
    try:
        assert await store.get(SHA) is None
        await store.put(SHA, QUERY)
    finally:
        await redis.aclose()


@pytest.mark.parametrize("sha", ["short", 12])
def test_malformed_hash_is_rejected(client: Any, sha: object) -> None:
    body = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha}}}
    assert post(client, body).status_code == 400
