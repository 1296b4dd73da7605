"""The README's tracking plan is the plan in code, word for word."""

from __future__ import annotations

from pathlib import Path

from analytics.plan import markdown_table


def test_the_readme_shows_the_plan_in_code() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert markdown_table() in readme
