"""Authorization and demand-control directives, from subgraph SDL to the supergraph.

`@authenticated`, `@requiresScopes`, `@policy`, `@cost` and `@listSize` are composed
directives: each subgraph's applications are merged onto the supergraph element and
printed with the `@link`s and definitions Apollo's composition writes for them. Merging
keeps every subgraph's demand: `@authenticated` if any subgraph asks for it, scope (and
policy) alternatives combined so that each subgraph's condition holds, the highest
`@cost`, the first `@listSize`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from graphql import IntValueNode, ListValueNode, StringValueNode, ValueNode, print_ast

__all__ = [
    "GUARD_DIRECTIVES",
    "Guards",
    "definitions",
    "links",
    "merge_guards",
    "read_guard",
]

GUARD_DIRECTIVES = ("authenticated", "requiresScopes", "policy", "cost", "listSize")

_LOCATIONS = "FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM"
_SPECS = {
    "authenticated": '@link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY)',
    "requiresScopes": '@link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)',
    "policy": '@link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)',
    "cost": '@link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@cost", "@listSize"])',
}
_DEFINITIONS = {
    "authenticated": [f"directive @authenticated on {_LOCATIONS}"],
    "requiresScopes": [
        f"directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on {_LOCATIONS}",
        "scalar requiresScopes__Scope",
    ],
    "policy": [
        f"directive @policy(policies: [[policy__Policy!]!]!) on {_LOCATIONS}",
        "scalar policy__Policy",
    ],
    "cost": [
        "directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | "
        "INPUT_FIELD_DEFINITION | OBJECT | SCALAR",
        "directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: "
        "[String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION",
    ],
}

Alternatives = tuple[tuple[str, ...], ...]


@dataclass(slots=True)
class Guards:
    """One element's applications in one subgraph."""

    authenticated: bool = False
    scopes: list[Alternatives] = field(default_factory=list)
    policies: list[Alternatives] = field(default_factory=list)
    cost: int | None = None
    list_size: str | None = None  # the printed `@listSize(...)`


def _alternatives(value: ValueNode | None) -> Alternatives:
    if not isinstance(value, ListValueNode):
        return ()
    return tuple(
        tuple(v.value for v in group.values if isinstance(v, StringValueNode))
        for group in value.values
        if isinstance(group, ListValueNode)
    )


def read_guard(name: str, args: dict[str, ValueNode], into: Guards) -> None:
    """Record one application of a guard directive (a no-op for other names)."""
    if name == "authenticated":
        into.authenticated = True
    elif name == "requiresScopes":
        into.scopes.append(_alternatives(args.get("scopes")))
    elif name == "policy":
        into.policies.append(_alternatives(args.get("policies")))
    elif name == "cost":
        weight = args.get("weight")
        if isinstance(weight, IntValueNode):
            into.cost = max(into.cost or 0, int(weight.value))
    elif name == "listSize" and into.list_size is None:
        parts = ", ".join(f"{key}: {print_ast(value)}" for key, value in args.items())
        into.list_size = f"@listSize({parts})" if parts else "@listSize"


def _conjunction(conditions: Sequence[Alternatives]) -> Alternatives:
    """Alternatives that satisfy every condition: one set from each, united."""
    combined: list[tuple[str, ...]] = [()]
    for condition in conditions:
        if not condition:
            continue
        combined = [
            tuple(dict.fromkeys((*left, *right))) for left in combined for right in condition
        ]
    unique: dict[frozenset[str], tuple[str, ...]] = {}
    for group in combined:
        unique.setdefault(frozenset(group), group)
    return tuple(unique.values())


def _print(alternatives: Alternatives) -> str:
    quoted = (", ".join(json.dumps(s, ensure_ascii=False) for s in g) for g in alternatives)
    return "[" + ", ".join(f"[{g}]" for g in quoted) + "]"


def merge_guards(guards: Sequence[Guards]) -> tuple[list[str], set[str]]:
    """The printed applications on the supergraph element, and the specs they use."""
    out: list[str] = []
    specs: set[str] = set()
    if any(g.authenticated for g in guards):
        out.append("@authenticated")
        specs.add("authenticated")
    scopes = [a for g in guards for a in g.scopes]
    if scopes:
        out.append(f"@requiresScopes(scopes: {_print(_conjunction(scopes))})")
        specs.add("requiresScopes")
    policies = [a for g in guards for a in g.policies]
    if policies:
        out.append(f"@policy(policies: {_print(_conjunction(policies))})")
        specs.add("policy")
    costs = [g.cost for g in guards if g.cost is not None]
    if costs:
        out.append(f"@cost(weight: {max(costs)})")
        specs.add("cost")
    list_size = next((g.list_size for g in guards if g.list_size), None)
    if list_size:
        out.append(list_size)
        specs.add("cost")
    return out, specs


def links(specs: set[str]) -> list[str]:
    return [_SPECS[name] for name in _SPECS if name in specs]


def definitions(specs: set[str]) -> dict[str, str]:
    """Definitions by the name they sort under (directives and scalars)."""
    out: dict[str, str] = {}
    for name in _SPECS:
        if name in specs:
            for text in _DEFINITIONS[name]:
                key = text.split()[1].lstrip("@").split("(")[0]
                out[key] = text
    return out
