"""The cyclic collector's tuning: young collections far apart, what was loaded frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from servicekit.collector import tune_collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_collector")
def test_tuning_spaces_young_collections_and_freezes_what_is_alive() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    loaded = [{"kept": index} for index in range(100)]

    tune_collector(200_000)

    assert gc.get_threshold() == (200_000, 10, 10)
    assert gc.get_freeze_count() >= len(loaded)
    # Frozen objects are no collection's work any more: a full collection skips them.
    assert not any(obj is loaded for obj in gc.get_objects())


@pytest.mark.usefixtures("restored_collector")
def test_zero_keeps_the_defaults() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)

    tune_collector(0)

    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("restored_collector")
def test_a_second_tuning_in_the_process_freezes_nothing_more() -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    tune_collector(200_000)
    frozen = gc.get_freeze_count()
    later = [{"later": index} for index in range(100)]

    tune_collector(200_000)

    # Frozen objects may die meanwhile (the count falls), but nothing new joins them.
    assert gc.get_freeze_count() <= frozen
    assert any(obj is later for obj in gc.get_objects())
