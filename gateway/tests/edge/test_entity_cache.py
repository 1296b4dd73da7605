"""Public entities' answers are kept across requests and dropped exactly by our events
(real engine, subgraphs over HTTP, NATS), with the response cache off so that every
request is planned and executed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from gateway.caching.entities import EntityCache
from gateway.caching.store import TaggedCache

from .test_response_cache import INVALIDATIONS, Stack, running

pytest.importorskip("gateway.engine")

WATCHING_USERS = INVALIDATIONS + ",identity.user.updated=User"
LISTING = '{ listing(id: "ID") { id title realtor { id name } } }'


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(
        tmp_path, response_cache=False, cache_invalidations=WATCHING_USERS
    ) as running_stack:
        yield running_stack


def entity_hits(stack: Stack) -> float:
    return stack.metrics.value("gateway_entity_cache_total", result="hit")


async def test_a_realtor_fetched_once_fills_the_next_listing_page(stack: Stack) -> None:
    first = (await stack.post(LISTING.replace("ID", "l1"))).json()
    second = (await stack.post(LISTING.replace("ID", "l2"))).json()
    again = (await stack.post(LISTING.replace("ID", "l1"))).json()
    assert first["data"]["listing"]["realtor"] == {"id": "u1", "name": "Ada"}
    assert second["data"]["listing"] == {
        "id": "l2",
        "title": "Garden flat",
        "realtor": {"id": "u1", "name": "Ada"},
    }
    assert again == first
    # Every page asks listings (no response cache); users only once.
    assert stack.world.fetches == ["listings", "users", "listings", "listings"]
    assert entity_hits(stack) == 2


async def test_an_event_on_the_user_drops_its_answers(stack: Stack) -> None:
    await stack.post(LISTING.replace("ID", "l1"))
    stack.world.users["u1"]["name"] = "Ada Lovelace"
    await stack.announce("identity.user.updated", "u1")
    page = (await stack.post(LISTING.replace("ID", "l2"))).json()
    assert page["data"]["listing"]["realtor"]["name"] == "Ada Lovelace"
    assert stack.world.fetches == ["listings", "users", "listings", "users"]


async def test_an_event_on_another_user_keeps_them(stack: Stack) -> None:
    await stack.post(LISTING.replace("ID", "l1"))
    await stack.announce("identity.user.updated", "u2")
    await stack.post(LISTING.replace("ID", "l2"))
    assert stack.world.fetches == ["listings", "users", "listings"]


async def test_nothing_asked_with_credentials_reads_or_fills_it(stack: Stack) -> None:
    await stack.post(LISTING.replace("ID", "l1"), authorization="Bearer good-u1-realtor")
    await stack.post(LISTING.replace("ID", "l2"))  # anonymous: finds nothing kept
    await stack.post(LISTING.replace("ID", "l1"), authorization="Bearer good-u1-realtor")
    assert stack.world.fetches == ["listings", "users"] * 3
    assert entity_hits(stack) == 0


async def test_an_operation_with_a_non_public_field_does_not_use_it(stack: Stack) -> None:
    query = '{ listing(id: "ID") { id realtor { id name email } } }'
    for listing in ("l1", "l2"):
        answer = (await stack.post(query.replace("ID", listing))).json()
        assert answer["data"]["listing"]["realtor"]["email"] == "ada@example.com"
    assert stack.world.fetches == ["listings", "users"] * 2


async def test_a_stopped_feed_empties_the_cache(stack: Stack) -> None:
    await stack.post(LISTING.replace("ID", "l1"))
    entities = stack.app.state.responses.entities
    assert len(entities) == 1
    await stack.bus.close()  # the feed can hear nothing now: nothing kept may be trusted
    assert entities.view("any") is None
    assert len(entities) == 0


def _view(cache: TaggedCache[dict[str, Any]]) -> Any:
    view = EntityCache(cache, frozenset({"User"})).view("supergraph")
    assert view is not None
    return view


def test_an_answer_fetched_across_an_event_is_not_kept() -> None:
    cache: TaggedCache[dict[str, Any]] = TaggedCache()
    view = _view(cache)
    rep = {"__typename": "User", "id": "u1"}
    cache.invalidate("User", "u1")  # while the fetch was out
    assert view.keep("batch", ["i1"], [rep], [{"name": "Ada"}]) == 0
    assert _view(cache).keep("batch", ["i1"], [rep], [{"name": "Ada"}]) == 1


def test_only_answers_of_leaves_of_watched_types_are_kept() -> None:
    cache: TaggedCache[dict[str, Any]] = TaggedCache()
    view = _view(cache)
    user = {"__typename": "User", "id": "u1"}
    listing = {"__typename": "Listing", "id": "l1"}
    kept = view.keep(
        "batch",
        ["nested", "unwatched", "null", "empty", "leaves"],
        [user, listing, user, user, user],
        [{"profile": {"bio": "x"}}, {"title": "Loft"}, None, {}, {"name": "Ada", "age": 3}],
    )
    assert kept == 1
    assert view.known("batch", ["leaves", "nested"], [user, user]) == [
        ("leaves", {"name": "Ada", "age": 3})
    ]


def test_a_user_without_a_string_id_is_dropped_by_any_event_on_its_type() -> None:
    cache: TaggedCache[dict[str, Any]] = TaggedCache()
    rep = {"__typename": "User", "email": "ada@example.com"}
    assert _view(cache).keep("batch", ["i1"], [rep], [{"name": "Ada"}]) == 1
    cache.invalidate("User", "u7")
    assert _view(cache).known("batch", ["i1"], [rep]) == []
