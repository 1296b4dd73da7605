"""Deduplicating representations: two are one exactly when their JSON is the same."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.executor.run import _identity_of

NAMES = ("__typename", "upc", "price")
# Values Python equates (1 == 1.0 == True) but JSON does not, and their neighbours.
VALUES: list[Any] = [1, 1.0, True, "1", None, 2**70, [1], {"amount": 1}]


@pytest.mark.parametrize("price", VALUES, ids=repr)
def test_one_identity_per_json_value(price: Any) -> None:
    mine = _identity_of(NAMES, ["Product", "p1", price])
    assert mine == _identity_of(NAMES, ["Product", "p1", price])
    for other in VALUES:
        theirs = _identity_of(NAMES, ["Product", "p1", other])
        assert (mine == theirs) == (type(price) is type(other) and price == other), other
    assert mine != _identity_of(NAMES, ["Product", "p2", price])
    assert mine != _identity_of(("__typename", "upc", "weight"), ["Product", "p1", price])
