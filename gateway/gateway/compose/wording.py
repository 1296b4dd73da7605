"""Phrasing shared by composition messages: lists of subgraphs and values, in plain English."""

from __future__ import annotations

from collections.abc import Sequence


def quoted_list(items: Sequence[str]) -> str:
    """`"a"`, `"a" and "b"`, `"a", "b" and "c"`."""
    quoted = [f'"{item}"' for item in items]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def subgraph_list(names: Sequence[str]) -> str:
    """`subgraph "a"` or `subgraphs "a" and "b"`."""
    noun = "subgraph" if len(names) == 1 else "subgraphs"
    return f"{noun} {quoted_list(names)}"


def grouped(pairs: Sequence[tuple[str, str]], what: str) -> str:
    """`type "X" in subgraph "a" but type "Y" in subgraphs "b" and "c"` from (value, subgraph)."""
    groups: dict[str, list[str]] = {}
    for value, subgraph in pairs:
        groups.setdefault(value, []).append(subgraph)
    parts = [f"{what} {value} in {subgraph_list(names)}" for value, names in groups.items()]
    if len(parts) == 1:
        return parts[0]
    return parts[0] + " but " + " and ".join(parts[1:])
