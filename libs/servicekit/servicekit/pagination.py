"""Relay connections (`first`/`after`, `edges { cursor node }`, `pageInfo`) for every list.

Cursors are opaque to clients: base64url of the JSON sort key of the row they point at, so
pagination is keyset-based and stays correct while rows are added.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from servicekit.errors import BadUserInput

T = TypeVar("T")
Row = TypeVar("Row")

DEFAULT_PAGE = 20
MAX_PAGE = 100


# One encoder for every cursor: `json.dumps` with options builds a new encoder per call.
_JSON = json.JSONEncoder(separators=(",", ":")).encode
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def encode_cursor(key: Sequence[Any]) -> str:
    """base64url (padded) of the key's compact JSON."""
    text = _JSON(list(key)).encode()
    return binascii.b2a_base64(text, newline=False).translate(_URLSAFE).decode()


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadUserInput("invalid cursor", field="after") from None
    if not isinstance(value, list):
        raise BadUserInput("invalid cursor", field="after")
    return value


def page_size(first: int | None, *, default: int = DEFAULT_PAGE, maximum: int = MAX_PAGE) -> int:
    if first is None:
        return default
    if first < 0 or first > maximum:
        raise BadUserInput(f"first must be between 0 and {maximum}", field="first")
    return first


@strawberry.federation.type(shareable=True, description="Where a page sits in a list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when more items follow this page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item of this page.")
    has_previous_page: bool = strawberry.field(description="True when items precede this page.")
    start_cursor: str | None = strawberry.field(
        description="Cursor of the first item of this page."
    )


@strawberry.federation.type(shareable=True, description="An item of a list with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item, for `after`.")
    node: T = strawberry.field(description="The item.")


@strawberry.federation.type(shareable=True, description="A page of a list (Relay connection).")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Paging information.")
    total_count: int | None = strawberry.field(
        default=None, description="Number of items in the whole list, when known."
    )


def build_connection(
    rows: Sequence[Row],
    *,
    limit: int,
    key: Callable[[Row], Sequence[Any]],
    node: Callable[[Row], T],
    after: str | None = None,
    total_count: int | None = None,
) -> Connection[T]:
    """A connection from `limit + 1` fetched rows (the extra row tells there is a next page)."""
    page = list(rows[:limit])
    edges = [Edge(cursor=encode_cursor(key(row)), node=node(row)) for row in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > limit,
            end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
        ),
        total_count=total_count,
    )
