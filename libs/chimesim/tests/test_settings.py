"""The emulator's configuration from `CHIMESIM_*` variables."""

from __future__ import annotations

import pytest
from chimesim.settings import Settings


def test_unset_variables_leave_the_defaults() -> None:
    assert Settings.from_env({}) == Settings()


def test_variables_are_read_as_numbers_of_their_kind() -> None:
    settings = Settings.from_env(
        {
            "CHIMESIM_KEEP_ALIVE_SECONDS": "90",
            "CHIMESIM_THROTTLE_RATE": "2.5",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert (settings.keep_alive_seconds, settings.throttle_rate, settings.region) == (
        90,
        2.5,
        "eu-west-1",
    )


@pytest.mark.parametrize("raw", ["-1", "soon"])
def test_a_keep_alive_that_is_not_a_count_of_seconds_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="CHIMESIM_KEEP_ALIVE_SECONDS"):
        Settings.from_env({"CHIMESIM_KEEP_ALIVE_SECONDS": raw})
