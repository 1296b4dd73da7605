"""`@authenticated`, `@requiresScopes`, `@policy` at the gateway, composed from subgraph SDL.

The whole operation is planned; fields the caller may not see are left out of every
subgraph fetch and answered null in place with `UNAUTHORIZED_FIELD_OR_TYPE` at their path
(a non-null one too: its parent is kept), and the rest is served.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from gateway.authorization import load_policy_hook

USERS = {"u1": {"id": "u1", "name": "Ada", "email": "ada@example.com", "phone": "555"}}
HOMES = [{"id": "h1", "price": 100, "notes": "n1"}, {"id": "h2", "price": 200, "notes": "n2"}]
UNAUTHORIZED = {"code": "UNAUTHORIZED_FIELD_OR_TYPE"}


def _error(*path: str | int) -> dict[str, Any]:
    return {"message": "Unauthorized field or type", "path": list(path), "extensions": UNAUTHORIZED}


def _federation(kit: Any, **options: Any) -> Any:
    accounts = kit.Service(
        "accounts",
        """
        type Query { me: User @authenticated  user(id: ID!): User  homes: [Home!]! }
        type User @key(fields: "id") {
          id: ID!
          name: String
          email: String @requiresScopes(scopes: [["read:email"], ["admin"]])
          phone: String! @requiresScopes(scopes: [["read:phone", "read:email"]])
        }
        type Home @key(fields: "id") { id: ID!  price: Int }
        """,
        root={
            "me": USERS["u1"],
            "user": lambda args: USERS.get(args["id"]),
            "homes": [{"id": h["id"], "price": h["price"]} for h in HOMES],
        },
        entities={"User": lambda rep: USERS[rep["id"]]},
    )
    notes = kit.Service(
        "notes",
        """
        type Home @key(fields: "id") { id: ID!  notes: String @policy(policies: [["staff"]]) }
        type User @key(fields: "id") { id: ID!  audit: Audit }
        type Audit @authenticated { entries: Int }
        """,
        entities={
            "Home": lambda rep: next(h for h in HOMES if h["id"] == rep["id"]),
            "User": lambda rep: {"id": rep["id"], "audit": {"entries": 3}},
        },
    )
    return kit.Federation(accounts, notes, **options)


def test_composition_carries_the_directives_as_apollo_writes_them(kit: Any) -> None:
    sdl = _federation(kit).supergraph.sdl
    assert '@link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY)' in sdl
    assert '@link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)' in sdl
    assert '@link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)' in sdl
    assert "me: User @join__field(graph: ACCOUNTS) @authenticated" in sdl
    assert (
        '@join__field(graph: ACCOUNTS) @requiresScopes(scopes: [["read:email"], ["admin"]])' in sdl
    )
    assert "type Audit\n  @join__type(graph: NOTES)\n  @authenticated\n{" in sdl
    assert "scalar requiresScopes__Scope" in sdl


async def test_the_join_directive_form_is_enforced_too(kit: Any) -> None:
    composed = _federation(kit).supergraph.sdl
    sdl = composed.replace(
        "me: User @join__field(graph: ACCOUNTS) @authenticated",
        "me: User @join__field(graph: ACCOUNTS) @join__directive(graphs: [ACCOUNTS], "
        'name: "requiresScopes", args: {scopes: [["me"]]})',
    )
    assert sdl != composed
    accounts, notes = _federation(kit).services.values()
    federation = kit.Federation(accounts, notes, supergraph=sdl)
    assert await federation.run("{ me { name } }", claims={"sub": "u1"}) == {
        "data": {"me": None},
        "errors": [_error("me")],
    }
    allowed = await federation.run("{ me { name } }", claims={"scope": "me"})
    assert allowed == {"data": {"me": {"name": "Ada"}}}


async def test_an_anonymous_caller_gets_the_rest_and_an_error_per_field(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run(
        '{ me { name }  user(id: "u1") { name email audit { entries } } }'
    )
    assert result == {
        "data": {"me": None, "user": {"name": "Ada", "email": None, "audit": None}},
        "errors": [_error("me"), _error("user", "email"), _error("user", "audit")],
    }
    # Nothing denied was asked of a subgraph: `me` and `email` are in no document.
    assert [call[0] for call in federation.transport.calls] == ["accounts"]
    assert "me" not in federation.transport.calls[0][1].replace("name", "")
    assert "email" not in federation.transport.calls[0][1]
    assert federation.subgraph_errors() == []


async def test_scopes_from_the_claim_alternatives_or_and_all_of_a_set(kit: Any) -> None:
    federation = _federation(kit)
    query = '{ user(id: "u1") { email phone } }'
    only_email = await federation.run(query, claims={"sub": "x", "scope": "read:email"})
    # `phone` is non-null: denied, it is still null in place, and `user` is kept.
    assert only_email == {
        "data": {"user": {"email": "ada@example.com", "phone": None}},
        "errors": [_error("user", "phone")],
    }
    admin = await federation.run('{ user(id: "u1") { email } }', claims={"scope": "admin other"})
    assert admin == {"data": {"user": {"email": "ada@example.com"}}}
    both = await federation.run(query, claims={"scope": "read:phone read:email"})
    assert both == {"data": {"user": {"email": "ada@example.com", "phone": "555"}}}


async def test_the_scope_claim_is_configurable_and_may_be_a_list(kit: Any) -> None:
    federation = _federation(kit, scope_claim="permissions")
    result = await federation.run(
        '{ user(id: "u1") { email } }', claims={"permissions": ["read:email"], "scope": "none"}
    )
    assert result == {"data": {"user": {"email": "ada@example.com"}}}


async def test_an_authenticated_caller_sees_authenticated_fields_and_types(kit: Any) -> None:
    federation = _federation(kit)
    result = await federation.run("{ me { name audit { entries } } }", claims={"sub": "u1"})
    assert result == {"data": {"me": {"name": "Ada", "audit": {"entries": 3}}}}


async def test_policies_come_from_the_hook_and_none_are_granted_without_it(kit: Any) -> None:
    asked: list[tuple[Mapping[str, Any] | None, frozenset[str]]] = []

    async def staff_only(claims: Mapping[str, Any] | None, policies: frozenset[str]) -> set[str]:
        asked.append((claims, policies))
        return {"staff", "unknown"} if claims and claims.get("role") == "staff" else set()

    query = "{ homes { id notes } }"
    denied = [_error("homes", 0, "notes"), _error("homes", 1, "notes")]
    without_hook = await _federation(kit).run(query, claims={"role": "staff"})
    assert without_hook == {
        "data": {"homes": [{"id": "h1", "notes": None}, {"id": "h2", "notes": None}]},
        "errors": denied,
    }
    federation = _federation(kit, policy_hook=staff_only)
    staff = await federation.run(query, claims={"role": "staff"})
    assert staff == {"data": {"homes": [{"id": "h1", "notes": "n1"}, {"id": "h2", "notes": "n2"}]}}
    assert federation.fetched == ["accounts", "notes"]
    other = await federation.run(query, claims={"role": "buyer"})
    assert other["errors"] == denied
    assert federation.fetched == ["accounts"]  # the denied field was the only one of notes
    assert asked == [
        ({"role": "staff"}, frozenset({"staff"})),
        ({"role": "buyer"}, frozenset({"staff"})),
    ]


async def test_a_failing_policy_hook_grants_nothing(
    kit: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(claims: Mapping[str, Any] | None, policies: frozenset[str]) -> list[str]:
        raise RuntimeError("policy store down")

    federation = _federation(kit, policy_hook=broken)
    result = await federation.run("{ homes { id notes } }", claims={"role": "staff"})
    assert result["data"] == {"homes": [{"id": "h1", "notes": None}, {"id": "h2", "notes": None}]}
    assert result["errors"] == [_error("homes", 0, "notes"), _error("homes", 1, "notes")]
    assert "the @policy hook failed" in caplog.text


async def test_plans_are_cached_per_set_of_denied_fields(kit: Any) -> None:
    federation = _federation(kit)
    query = '{ user(id: "u1") { name email } }'
    await federation.run(query)
    await federation.run(query, claims={"scope": "read:email"})
    await federation.run(query)
    assert (federation.engine.plan_cache_misses, federation.engine.plan_cache_hits) == (2, 1)


def staff_hook(claims: Mapping[str, Any] | None, policies: frozenset[str]) -> list[str]:
    """A policy hook named by path in the tests below."""
    return ["staff"] if claims else []


def test_a_policy_hook_is_loaded_from_its_path() -> None:
    hook = load_policy_hook(f"{__name__}:staff_hook")
    assert hook is not None
    assert hook({"sub": "x"}, frozenset({"staff"})) == ["staff"]
    assert load_policy_hook("") is None


async def test_an_interface_field_guarded_on_one_implementation_is_denied_on_the_interface(
    kit: Any,
) -> None:
    places = kit.Service(
        "places",
        """
        type Query { places: [Place!]! }
        interface Place { id: ID!  owner: String }
        type House implements Place { id: ID!  owner: String @requiresScopes(scopes: [["owners"]]) }
        type Flat implements Place { id: ID!  owner: String }
        """,
        root={
            "places": [
                {"__typename": "House", "id": "p1", "owner": "Ada"},
                {"__typename": "Flat", "id": "p2", "owner": "Bo"},
            ]
        },
    )
    federation = kit.Federation(places)
    query = "{ places { id owner ... on Flat { id } } }"
    result = await federation.run(query, claims={"sub": "x"})
    assert result == {
        "data": {"places": [{"id": "p1", "owner": None}, {"id": "p2", "owner": None}]},
        "errors": [_error("places", 0, "owner"), _error("places", 1, "owner")],
    }
    assert "owner" not in federation.transport.calls[0][1]
    allowed = await federation.run(query, claims={"scope": "owners"})
    assert allowed == {
        "data": {"places": [{"id": "p1", "owner": "Ada"}, {"id": "p2", "owner": "Bo"}]}
    }
