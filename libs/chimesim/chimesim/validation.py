"""Input validation driven by the model's shapes: what the service checks and botocore
does not (it checks required members and types client-side, not lengths, patterns, enums
or list sizes).

Patterns are applied to the whole value, as the service does for identifiers: a meeting ID
that merely contains a GUID is not a GUID. Values beginning with `aws:` are reserved for
tag keys and external IDs, case-insensitively.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from chimesim.errors import bad_request

RESERVED_PREFIX_SHAPES = frozenset({"TagKey", "ExternalUserId", "ExternalMeetingId"})


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def validate(shape: Shape, value: Any, path: str = "") -> None:
    """Raise `BadRequestException` naming the first member that breaks the model."""
    where = path or shape.name
    kind = shape.type_name
    if kind == "structure":
        _structure(shape, value, where)
    elif kind == "list":
        _list(shape, value, where)
    elif kind == "map":
        _map(shape, value, where)
    elif kind == "string":
        _string(shape, value, where)
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad_request(f"{where} must be an integer")
        _range(shape, value, where)
    elif kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise bad_request(f"{where} must be a number")
        _range(shape, value, where)
    elif kind == "boolean" and not isinstance(value, bool):
        raise bad_request(f"{where} must be a boolean")


def _structure(shape: Shape, value: Any, where: str) -> None:
    assert isinstance(shape, StructureShape)
    if not isinstance(value, dict):
        raise bad_request(f"{where} must be an object")
    for name in shape.required_members:
        if value.get(name) is None:
            raise bad_request(f"{where}.{name} is required")
    for name, member in shape.members.items():
        if value.get(name) is not None:
            validate(member, value[name], f"{where}.{name}")


def _list(shape: Shape, value: Any, where: str) -> None:
    assert isinstance(shape, ListShape)
    if not isinstance(value, list):
        raise bad_request(f"{where} must be a list")
    _size(shape, len(value), where, "items")
    for index, item in enumerate(value):
        validate(shape.member, item, f"{where}[{index}]")


def _map(shape: Shape, value: Any, where: str) -> None:
    assert isinstance(shape, MapShape)
    if not isinstance(value, dict):
        raise bad_request(f"{where} must be an object")
    _size(shape, len(value), where, "entries")
    for key, item in value.items():
        validate(shape.key, key, f"{where} key")
        validate(shape.value, item, f"{where}.{key}")


def _string(shape: Shape, value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise bad_request(f"{where} must be a string")
    enum = shape.enum
    if enum and value not in enum:
        raise bad_request(f"{where} must be one of {', '.join(enum)}")
    _size(shape, len(value), where, "characters")
    pattern = shape.metadata.get("pattern")
    if pattern and _compiled(pattern).fullmatch(value) is None:
        raise bad_request(f"{where} does not match the pattern {pattern}")
    if shape.name in RESERVED_PREFIX_SHAPES and value.lower().startswith("aws:"):
        raise bad_request(f"{where}: values beginning with aws: are reserved")


def _size(shape: Shape, size: int, where: str, unit: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        raise bad_request(f"{where} must have at least {low} {unit}")
    if high is not None and size > high:
        raise bad_request(f"{where} must have at most {high} {unit}")


def _range(shape: Shape, value: float, where: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        raise bad_request(f"{where} must be at least {low}")
    if high is not None and value > high:
        raise bad_request(f"{where} must be at most {high}")
