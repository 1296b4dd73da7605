"""`@authenticated` and `@requiresScopes` on the parts of a shareable keyless root.

`titles`, `zones` and `rents` each resolve `plot` / `plots` and one object field of it:
`title` needs an authenticated caller, `zone` the scopes `zone-name` and `zone-id` (or
`all`), `rent` the scope `rent` (or `all`). A field the caller may not see is left out of
the fetches and answered null in place with an error at its path, the rest served. Every
guarded field here is non-null, and the root too: the denied field is still null where it
stands, its parent kept (it was taken out of the operation, it did not fail), as the
audit expects.
"""

from __future__ import annotations

from typing import Any

import pytest

TITLE = {"id": "1", "street": "Elm", "number": "7"}
ZONE = {"id": "1", "name": "Zone 1"}
RENT = {"id": "1", "amount": 1000, "currency": "EUR"}
PLOT = {"id": "1", "title": TITLE, "zone": ZONE, "rent": RENT}
UNAUTHORIZED = {"code": "UNAUTHORIZED_FIELD_OR_TYPE"}


def _federation(kit: Any) -> Any:
    def service(name: str, field: str, guarded: str, type_sdl: str, value: Any) -> Any:
        plot = {"id": "1", field: value}
        return kit.Service(
            name,
            f"""
            type Query {{ plot: Plot! @shareable  plots: [Plot!]! @shareable }}
            type Plot {{ id: ID! @shareable  {guarded} }}
            {type_sdl}
            """,
            root={"plot": plot, "plots": [plot]},
        )

    return kit.Federation(
        service(
            "titles",
            "title",
            "title: Title! @authenticated",
            "type Title { id: ID!  street: String!  number: String! }",
            TITLE,
        ),
        service(
            "zones",
            "zone",
            'zone: Zone! @requiresScopes(scopes: [["zone-name", "zone-id"], ["all"]])',
            "type Zone { id: ID!  name: String! }",
            ZONE,
        ),
        service(
            "rents",
            "rent",
            'rent: Rent! @requiresScopes(scopes: [["rent"], ["all"]])',
            "type Rent { id: ID!  amount: Int!  currency: String! }",
            RENT,
        ),
    )


EVERYTHING = "id title { id street number } zone { id name } rent { id amount currency }"


def _claims(*scopes: str) -> dict[str, Any]:
    return {"sub": "12345", "scope": " ".join(scopes)}


def _wrap(root: str, value: dict[str, Any]) -> Any:
    return value if root == "plot" else [value]


def _errors(at: list[Any], *fields: str) -> list[dict[str, Any]]:
    """One unauthorized error per denied field, in the order the client asked them."""
    return [
        {"message": "Unauthorized field or type", "path": [*at, f], "extensions": UNAUTHORIZED}
        for f in fields
    ]


@pytest.mark.parametrize("root", ["plot", "plots"])
@pytest.mark.parametrize("scopes", [("zone-name", "zone-id", "rent"), ("all",)])
async def test_every_part_with_the_scopes_it_needs(
    kit: Any, root: str, scopes: tuple[str, ...]
) -> None:
    federation = _federation(kit)
    result = await federation.run(f"{{ {root} {{ {EVERYTHING} }} }}", claims=_claims(*scopes))
    assert result == {"data": {root: _wrap(root, PLOT)}}


@pytest.mark.parametrize("root", ["plot", "plots"])
async def test_an_authenticated_caller_without_the_scopes(kit: Any, root: str) -> None:
    federation = _federation(kit)
    result = await federation.run(
        f"{{ {root} {{ id title {{ id street number }} zone {{ name }} rent {{ amount }} }} }}",
        claims=_claims("unused"),
    )
    at = [root] if root == "plot" else [root, 0]
    assert result == {
        "data": {root: _wrap(root, {"id": "1", "title": TITLE, "zone": None, "rent": None})},
        "errors": _errors(at, "zone", "rent"),
    }
    # The denied fields are asked of no subgraph: `zones` and `rents` are not called.
    assert sorted(federation.fetched) == ["titles"]


@pytest.mark.parametrize("root", ["plot", "plots"])
async def test_an_anonymous_caller_gets_the_id_alone(kit: Any, root: str) -> None:
    federation = _federation(kit)
    result = await federation.run(
        f"{{ {root} {{ id title {{ street }} zone {{ name }} rent {{ amount }} }} }}"
    )
    at = [root] if root == "plot" else [root, 0]
    assert result == {
        "data": {root: _wrap(root, {"id": "1", "title": None, "zone": None, "rent": None})},
        "errors": _errors(at, "title", "zone", "rent"),
    }
    # Only the id is left: one subgraph answers it alone.
    assert len(federation.fetched) == 1


@pytest.mark.parametrize("root", ["plot", "plots"])
async def test_one_scope_of_a_required_pair_is_not_enough(kit: Any, root: str) -> None:
    federation = _federation(kit)
    result = await federation.run(
        f"{{ {root} {{ id zone {{ id name }} }} }}", claims=_claims("zone-id")
    )
    at = [root] if root == "plot" else [root, 0]
    assert result == {
        "data": {root: _wrap(root, {"id": "1", "zone": None})},
        "errors": _errors(at, "zone"),
    }
    assert federation.subgraph_errors() == []
