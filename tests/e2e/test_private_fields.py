"""A private field another user may not see is FORBIDDEN for that field alone, through the
gateway, wherever it is selected: the gateway adds no INTERNAL_SERVER_ERROR of its own
when it propagates the null."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Stack
from tests.flows import list_cottage, post, register


async def test_a_forbidden_private_field_is_forbidden_and_nothing_else(stack: Stack) -> None:
    url = stack.graphql_url
    async with httpx.AsyncClient(timeout=20) as client:
        realtor, realtor_id = await register(client, url, "REALTOR", "Rita")
        buyer, _ = await register(client, url, "BUYER", "Ben")
        listing_id = await list_cottage(client, url, realtor)
        for query, variables in (
            ("query($id: ID!) { user(id: $id) { id email } }", {"id": realtor_id}),
            (
                "query($id: ID!) { listing(id: $id) { title realtor { displayName email } } }",
                {"id": listing_id},
            ),
        ):
            body = await post(client, url, query, buyer, **variables)
            codes = [e["extensions"]["code"] for e in body["errors"]]
            assert codes == ["FORBIDDEN"], body
            assert body["errors"][0]["path"][-1] == "email", body
