"""One entity's selection asked of a subgraph once per query, whatever wave needs it again.

Homes name their agent; people know agents' names; offices know an agent's office and
its manager, another agent. `{ homes { agent { name office { manager { name } } } } }`
needs the agents' names in the first wave and the managers' names in the second: a
manager who is also a home's agent was answered already.
"""

from __future__ import annotations

from typing import Any

HOMES = [{"id": "h1", "agent": {"id": "a1"}}, {"id": "h2", "agent": {"id": "a2"}}]
PEOPLE: dict[str, dict[str, Any]] = {
    "a1": {"name": "Ada", "badge": {"code": "A-1"}},
    "a2": {"name": "Alan", "badge": {"code": "A-2"}},
    "a3": {"name": "Grace", "badge": {"code": "G-3"}},
}
MANAGERS = {"a1": "a1", "a2": "a3"}
QUERY = "{ homes { agent { name office { manager { name } } } } }"
ANSWER = {
    "homes": [
        {"agent": {"name": "Ada", "office": {"manager": {"name": "Ada"}}}},
        {"agent": {"name": "Alan", "office": {"manager": {"name": "Grace"}}}},
    ]
}


def _person(rep: dict[str, Any]) -> dict[str, Any]:
    person = {"id": rep["id"], **PEOPLE[rep["id"]]}
    if rep["id"] in FAILING:
        person["name"] = _out_to_lunch
    return person


def _out_to_lunch(_info: Any) -> str:
    raise ValueError("out to lunch")


FAILING: set[str] = set()


def _federation(kit: Any) -> tuple[Any, Any]:
    homes = kit.Service(
        "homes",
        """
        type Query { homes: [Home!]! }
        type Mutation { relist: [Home!]! }
        type Home @key(fields: "id") { id: ID!  agent: Agent! }
        type Agent @key(fields: "id") { id: ID! }
        """,
        root={"homes": HOMES, "relist": HOMES},
    )
    people = kit.Service(
        "people",
        """
        type Agent @key(fields: "id") { id: ID!  name: String  badge: Badge }
        type Badge { code: String! }
        """,
        entities={"Agent": _person},
    )
    offices = kit.Service(
        "offices",
        """
        type Agent @key(fields: "id") { id: ID!  office: Office! }
        type Office { manager: Agent! }
        """,
        entities={
            "Agent": lambda rep: {
                "id": rep["id"],
                "office": {"manager": {"id": MANAGERS[rep["id"]]}},
            }
        },
    )
    return kit.Federation(homes, people, offices), people


def _asked(people: Any) -> list[list[str]]:
    return [[rep["id"] for rep in reps] for reps in people.representations]


async def test_an_entity_answered_in_one_wave_is_not_asked_again_in_a_later_one(kit: Any) -> None:
    federation, people = _federation(kit)
    assert await federation.run(QUERY) == {"data": ANSWER}
    # a1 manages itself: only a3 is new in the second wave.
    assert _asked(people) == [["a1", "a2"], ["a3"]]


async def test_an_entity_fully_answered_before_costs_no_fetch(kit: Any) -> None:
    federation, people = _federation(kit)
    MANAGERS["a2"] = "a2"
    try:
        result = await federation.run(QUERY)
    finally:
        MANAGERS["a2"] = "a3"
    assert result["data"]["homes"][1]["agent"]["office"]["manager"] == {"name": "Alan"}
    assert _asked(people) == [["a1", "a2"]]
    assert federation.fetched.count("people") == 1


async def test_an_answer_holding_objects_is_asked_again(kit: Any) -> None:
    federation, people = _federation(kit)
    result = await federation.run(
        "{ homes { agent { badge { code } office { manager { badge { code } } } } } }"
    )
    assert result["data"]["homes"][0] == {
        "agent": {"badge": {"code": "A-1"}, "office": {"manager": {"badge": {"code": "A-1"}}}}
    }
    assert _asked(people) == [["a1", "a2"], ["a1", "a3"]]


async def test_a_mutation_asks_again(kit: Any) -> None:
    federation, people = _federation(kit)
    result = await federation.run(
        "mutation { relist { agent { name office { manager { name } } } } }"
    )
    assert result == {"data": {"relist": ANSWER["homes"]}}
    assert _asked(people) == [["a1", "a2"], ["a1", "a3"]]


async def test_a_fetch_that_reported_errors_is_not_reused(kit: Any) -> None:
    federation, people = _federation(kit)
    FAILING.add("a2")
    try:
        result = await federation.run(QUERY)
    finally:
        FAILING.clear()
    # a1's answer came back beside an error on a2's name: none of that fetch is kept.
    assert result["data"]["homes"][0]["agent"] == {
        "name": "Ada",
        "office": {"manager": {"name": "Ada"}},
    }
    assert result["data"]["homes"][1]["agent"]["name"] is None
    assert _asked(people) == [["a1", "a2"], ["a1", "a3"]]
    assert [error["path"] for error in result["errors"]] == [["homes", 1, "agent", "name"]]


def test_a_merge_forgets_the_positions_below_the_fields_it_set() -> None:
    from gateway.executor.run import _forget

    typed = frozenset(("Agent",))
    paths: dict[Any, Any] = {
        (): [],
        ("homes",): [],
        ("homes", "agent"): [],
        ("homes", "agent", "office"): [],
        ("homes", "agent", "office", "manager"): [],
        ("homes", "agent", "badge"): [],
        ("homes", typed): [],
        ("homes", "listing"): [],
        ("offices",): [],
    }
    _forget(paths, ("homes",), {"__typename", "agent"})
    # What lies below `homes` through `agent` or a type condition may have changed; the
    # objects at `homes` themselves, above it, beside it and through other fields have not.
    assert sorted(paths, key=str) == sorted(
        [(), ("homes",), ("homes", "listing"), ("offices",)], key=str
    )
