"""Queries through the gateway against the corpus subgraphs: exact responses."""

from __future__ import annotations

from typing import Any


async def test_single_subgraph_query(gateway: Any) -> None:
    result = await gateway.run("{ me { id name } }")
    assert result == {"data": {"me": {"id": "u1", "name": "Ada Lovelace"}}}
    assert gateway.transport.subgraphs == ["accounts"]


async def test_entity_jump_and_provides(gateway: Any) -> None:
    result = await gateway.run(
        "{ topReviews(first: 2) { body author { username name } product { name } } }"
    )
    assert result == {
        "data": {
            "topReviews": [
                {
                    "body": "Love it!",
                    "author": {"username": "@ada", "name": "Ada Lovelace"},
                    "product": {"name": "Table"},
                },
                {
                    "body": "Too expensive.",
                    "author": {"username": "@alan", "name": "Alan Turing"},
                    "product": {"name": "Table"},
                },
            ]
        }
    }
