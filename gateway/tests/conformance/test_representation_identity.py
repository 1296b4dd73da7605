"""Deduplicating representations: two are one exactly when their JSON is the same."""

from __future__ import annotations

from typing import Any

import pytest
from gateway.executor.run import _collect_by_string, _collect_by_values, _identity_of

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


def test_one_field_keys_collected_by_json_value_in_order_found() -> None:
    """The `{id}` keys of a named type are bucketed by their value: a string id and the
    number it spells, or 1, 1.0 and True, are different entities; a null id is none."""
    names = ("__typename", "id")
    objects: list[dict[str, Any]] = [
        {"id": "1"},
        {"id": 1},
        {"id": True},
        {"id": "1"},
        {"id": None},
        {},
        {"id": 1.0},
        {"id": 1},
    ]
    located = [(obj, (None, index)) for index, obj in enumerate(objects)]
    out: dict[Any, Any] = {}
    _collect_by_string(located, names, "User", "id", out)  # type: ignore[arg-type]
    assert list(out) == [_identity_of(names, ["User", value]) for value in ("1", 1, True, 1.0)]
    assert [rep for rep, _ in out.values()] == [
        {"__typename": "User", "id": value} for value in ("1", 1, True, 1.0)
    ]
    assert [[where[1] for _, where in filled] for _, filled in out.values()] == [
        [0, 3],
        [1, 7],
        [2],
        [6],
    ]


def test_key_and_requirements_collected_by_json_values_in_order_found() -> None:
    """`{upc price}` of a named type: a price of 1, 1.0 or True makes three entities, a
    null price is sent as it is, a null key or a missing requirement is no entity."""
    names = ("__typename", "upc", "price")
    objects: list[dict[str, Any]] = [
        {"upc": "p1", "price": 1},
        {"upc": "p1", "price": 1.0},
        {"upc": "p1", "price": True},
        {"upc": "p1", "price": None},
        {"upc": None, "price": 1},
        {"upc": "p1"},
        {"upc": "p1", "price": 1},
        {"upc": "p1", "price": None},
    ]
    located = [(obj, (None, index)) for index, obj in enumerate(objects)]
    out: dict[Any, Any] = {}
    _collect_by_values(located, names, "Product", ("upc", "price"), (1,), out)  # type: ignore[arg-type]
    prices = (1, 1.0, True, None)
    assert list(out) == [_identity_of(names, ["Product", "p1", price]) for price in prices]
    assert [rep for rep, _ in out.values()] == [
        {"__typename": "Product", "upc": "p1", "price": price} for price in prices
    ]
    assert [[where[1] for _, where in filled] for _, filled in out.values()] == [
        [0, 6],
        [1],
        [2],
        [3, 7],
    ]
