"""Opaque `NextToken` pagination over a list, as the List operations return it."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TypeVar

from chimesim.errors import bad_request

T = TypeVar("T")


def page(
    items: Sequence[T], max_results: int | None, token: str | None
) -> tuple[list[T], str | None]:
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
        except ValueError as exc:
            raise bad_request("NextToken is not valid") from exc
    size = max_results or 10
    chosen = list(items[start : start + size])
    following = start + size
    next_token = (
        base64.urlsafe_b64encode(f"offset:{following}".encode()).decode()
        if following < len(items)
        else None
    )
    return chosen, next_token
