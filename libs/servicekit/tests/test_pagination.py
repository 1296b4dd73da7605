"""Cursors: base64url of the sort key's compact JSON, read back as the key."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from servicekit.errors import BadUserInput
from servicekit.pagination import decode_cursor, encode_cursor

KEYS = st.lists(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(key=KEYS)
def test_a_cursor_is_base64url_of_the_compact_json_and_reads_back(key: list[Any]) -> None:
    cursor = encode_cursor(key)
    expected = json.dumps(key, separators=(",", ":")).encode()
    assert base64.urlsafe_b64decode(cursor) == expected
    assert cursor == base64.urlsafe_b64encode(expected).decode()
    assert decode_cursor(cursor) == key


@pytest.mark.parametrize("cursor", ["!!!", base64.urlsafe_b64encode(b'{"a":1}').decode()])
def test_a_cursor_that_is_not_a_key_is_bad_input(cursor: str) -> None:
    with pytest.raises(BadUserInput):
        decode_cursor(cursor)
