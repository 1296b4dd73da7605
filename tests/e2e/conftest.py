"""The real stack for end-to-end tests (see `tests/stack.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stack import Stack, running_stack

__all__ = ["Stack"]


@pytest.fixture(scope="session")
def stack(
    postgres_url: str, nats_url: str, aws_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with running_stack(
        postgres_url=postgres_url,
        nats_url=nats_url,
        aws_endpoint=aws_endpoint,
        data_dir=tmp_path_factory.mktemp("stack"),
    ) as stack:
        yield stack
