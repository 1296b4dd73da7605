"""Merging entity answers into the objects they fill, as one fetch after another."""

from __future__ import annotations

from typing import Any

from gateway.executor.run import _merge_each


def _filled(*objects: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    return [(obj, None) for obj in objects]


def test_an_answer_of_leaves_fills_every_object_and_wins_over_what_was_there() -> None:
    first, second = {"upc": "1", "price": 5}, {"upc": "1"}
    _merge_each(_filled(first, second), {"price": 7, "name": "Table"})
    assert first == second == {"upc": "1", "price": 7, "name": "Table"}


def test_a_null_in_an_answer_leaves_a_value_already_merged() -> None:
    first, second = {"upc": "1", "name": "Table"}, {"upc": "1"}
    _merge_each(_filled(first, second), {"name": None, "inStock": True})
    assert first == {"upc": "1", "name": "Table", "inStock": True}
    assert second == {"upc": "1", "name": None, "inStock": True}


def test_objects_in_an_answer_merge_field_by_field() -> None:
    first = {"upc": "1", "reviews": [{"id": "r1", "body": "ok"}], "shipping": {"days": 2}}
    answer = {"reviews": [{"id": "r1", "author": {"id": "u1"}}], "shipping": {"cost": 3}}
    _merge_each(_filled(first), answer)
    assert first == {
        "upc": "1",
        "reviews": [{"id": "r1", "body": "ok", "author": {"id": "u1"}}],
        "shipping": {"days": 2, "cost": 3},
    }
