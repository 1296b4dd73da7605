"""`@authenticated`, `@requiresScopes` and `@policy`, enforced at the gateway.

The supergraph carries them as composed directives (`@link(url:
".../authenticated/v0.1", for: SECURITY)` and its siblings, applied on fields and types
the way Apollo's composition writes them) or as `@join__directive(name:, args:)`. They
are read once per supergraph into rules per field coordinate: a field is guarded by its
own rules, its parent type's, its return type's and, on an interface, those of every
implementation. Per request the caller's grants (authenticated, scopes from a claim,
policies from a hook) decide which coordinates are denied. The operation is planned
without them; the response answers each with null in place and an
`UNAUTHORIZED_FIELD_OR_TYPE` error at its path (a non-null one too: its parent is kept),
and serves the rest.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    ConstDirectiveNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    value_from_ast_untyped,
)

__all__ = [
    "UNAUTHORIZED",
    "Authorization",
    "Grants",
    "PolicyHook",
    "Rule",
    "load_policy_hook",
]

log = logging.getLogger(__name__)

UNAUTHORIZED = "UNAUTHORIZED_FIELD_OR_TYPE"
Coordinate = tuple[str, str]  # (type, field)
#: Given the caller's claims (None: anonymous) and the policies the supergraph names,
#: the policies the caller satisfies (or an awaitable of them).
PolicyHook = Callable[
    [Mapping[str, Any] | None, frozenset[str]], Iterable[str] | Awaitable[Iterable[str]]
]


@dataclass(frozen=True, slots=True)
class Grants:
    """What one caller holds."""

    authenticated: bool = False
    scopes: frozenset[str] = frozenset()
    policies: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Rule:
    """One application: authentication, or alternatives of scope (policy) sets to hold."""

    authenticated: bool = False
    scopes: tuple[frozenset[str], ...] = ()
    policies: tuple[frozenset[str], ...] = ()

    def allows(self, grants: Grants) -> bool:
        if self.authenticated and not grants.authenticated:
            return False
        if self.scopes and not any(s <= grants.scopes for s in self.scopes):
            return False
        return not self.policies or any(p <= grants.policies for p in self.policies)


def _alternatives(value: Any) -> tuple[frozenset[str], ...]:
    """`[["a", "b"], ["c"]]`: a and b, or c."""
    if not isinstance(value, list):
        return ()
    return tuple(
        frozenset(str(item) for item in group) for group in value if isinstance(group, list)
    )


def _rule(name: str, args: Mapping[str, Any]) -> Rule | None:
    if name == "authenticated":
        return Rule(authenticated=True)
    if name == "requiresScopes":
        return Rule(scopes=_alternatives(args.get("scopes")))
    if name == "policy":
        return Rule(policies=_alternatives(args.get("policies")))
    return None


def _rules_on(node: Any) -> list[Rule]:
    """Rules applied on an AST node (and its extensions), in either supergraph form."""
    nodes = [node, *(getattr(node, "extension_ast_nodes", None) or ())]
    out: list[Rule] = []
    for item in nodes:
        directives: Sequence[ConstDirectiveNode] = getattr(item, "directives", None) or ()
        for directive in directives:
            args = {
                a.name.value: value_from_ast_untyped(a.value) for a in directive.arguments or ()
            }
            name = directive.name.value
            if name == "join__directive":
                inner = args.get("args")
                rule = _rule(str(args.get("name")), inner if isinstance(inner, dict) else {})
            else:
                rule = _rule(name, args)
            if rule is not None:
                out.append(rule)
    return out


class Authorization:
    """The rules of one supergraph, by field coordinate; empty when it uses none."""

    __slots__ = ("policies", "rules")

    def __init__(self, rules: Mapping[Coordinate, tuple[Rule, ...]]) -> None:
        self.rules = dict(rules)
        self.policies = frozenset(
            policy
            for guards in self.rules.values()
            for rule in guards
            for group in rule.policies
            for policy in group
        )

    @classmethod
    def from_schema(cls, schema: GraphQLSchema) -> Authorization:
        own_types: dict[str, list[Rule]] = {}
        for name, gtype in schema.type_map.items():
            if not name.startswith("__") and gtype.ast_node is not None:
                found = _rules_on(gtype.ast_node)
                if found:
                    own_types[name] = found
        own_fields: dict[Coordinate, list[Rule]] = {}
        composite = [
            t
            for t in schema.type_map.values()
            if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)
            and not t.name.startswith("__")
        ]
        for gtype in composite:
            for field_name, field_def in gtype.fields.items():
                if field_def.ast_node is not None:
                    found = _rules_on(field_def.ast_node)
                    if found:
                        own_fields[(gtype.name, field_name)] = found
        if not own_types and not own_fields:
            return cls({})
        rules: dict[Coordinate, tuple[Rule, ...]] = {}
        for gtype in composite:
            related: list[GraphQLObjectType | GraphQLInterfaceType] = [gtype]
            if isinstance(gtype, GraphQLInterfaceType):
                related += schema.get_possible_types(gtype)
            else:
                related += gtype.interfaces
            for field_name, field_def in gtype.fields.items():
                guards: list[Rule] = []
                for holder in related:
                    if field_name in holder.fields:
                        guards += own_fields.get((holder.name, field_name), ())
                    if holder is gtype or isinstance(gtype, GraphQLInterfaceType):
                        guards += own_types.get(holder.name, ())
                guards += own_types.get(get_named_type(field_def.type).name, ())
                if guards:
                    rules[(gtype.name, field_name)] = tuple(dict.fromkeys(guards))
        return cls(rules)

    def denied(self, grants: Grants) -> frozenset[Coordinate]:
        """The coordinates this caller may not see."""
        return frozenset(
            coordinate
            for coordinate, guards in self.rules.items()
            if not all(rule.allows(grants) for rule in guards)
        )

    async def grants(
        self,
        claims: Mapping[str, Any] | None,
        *,
        scope_claim: str,
        policy_hook: PolicyHook | None,
    ) -> Grants:
        """The caller's grants from its verified token's claims (None: anonymous)."""
        scopes: frozenset[str] = frozenset()
        if claims is not None:
            raw = claims.get(scope_claim)
            if isinstance(raw, str):
                scopes = frozenset(raw.split())
            elif isinstance(raw, list):
                scopes = frozenset(str(s) for s in raw)
        policies: frozenset[str] = frozenset()
        if self.policies and policy_hook is not None:
            try:
                granted = policy_hook(claims, self.policies)
                if inspect.isawaitable(granted):
                    granted = await granted
                policies = frozenset(str(p) for p in granted) & self.policies
            except Exception:  # fail closed: a broken hook grants nothing, and says so
                log.exception("the @policy hook failed; no policy is granted")
        return Grants(claims is not None, scopes, policies)


def load_policy_hook(path: str) -> PolicyHook | None:
    """`package.module:function` (or dotted) to the callable; "" for no hook."""
    if not path:
        return None
    module_name, _, attribute = path.partition(":") if ":" in path else path.rpartition(".")
    hook = getattr(importlib.import_module(module_name), attribute)
    if not callable(hook):
        raise TypeError(f"the policy hook {path!r} is not callable")
    result: PolicyHook = hook
    return result
