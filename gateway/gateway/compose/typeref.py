"""Type references (`[Listing!]!`) as small immutable values that compare and print.

Composition compares field types across subgraphs and decides which one is the more
general (outputs) or the more restrictive (inputs); a value type makes that plain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass

from graphql.language import ListTypeNode, NamedTypeNode, NonNullTypeNode, TypeNode


@dataclass(frozen=True, slots=True)
class TypeRef:
    """`name` is set for a named type; `of` wraps the inner type of a list or non-null."""

    kind: str  # "named" | "list" | "non_null"
    name: str = ""
    of: TypeRef | None = None

    @staticmethod
    def from_ast(node: TypeNode, rename: Callable[[str], str] = lambda n: n) -> TypeRef:
        if isinstance(node, NonNullTypeNode):
            return TypeRef("non_null", of=TypeRef.from_ast(node.type, rename))
        if isinstance(node, ListTypeNode):
            return TypeRef("list", of=TypeRef.from_ast(node.type, rename))
        assert isinstance(node, NamedTypeNode)
        return TypeRef("named", name=rename(node.name.value))

    @property
    def named(self) -> str:
        """The innermost named type (`Listing` for `[Listing!]!`)."""
        ref = self
        while ref.of is not None:
            ref = ref.of
        return ref.name

    @property
    def is_non_null(self) -> bool:
        return self.kind == "non_null"

    def __str__(self) -> str:
        if self.kind == "non_null":
            return f"{self.of}!"
        if self.kind == "list":
            return f"[{self.of}]"
        return self.name


def is_subtype(sup: TypeRef, sub: TypeRef, possible: Mapping[str, Set[str]] | None = None) -> bool:
    """Whether a value of type `sub` is always a valid value of type `sup`.

    Non-null is a subtype of nullable; lists are covariant; an object type is a subtype
    of an interface it implements or a union it belongs to (`possible` maps abstract
    type names to their possible types).
    """
    if sup == sub:
        return True
    if sub.kind == "non_null":
        assert sub.of is not None
        if sup.kind == "non_null":
            assert sup.of is not None
            return is_subtype(sup.of, sub.of, possible)
        return is_subtype(sup, sub.of, possible)
    if sup.kind == "non_null":
        return False
    if sup.kind == "list" and sub.kind == "list":
        assert sup.of is not None and sub.of is not None
        return is_subtype(sup.of, sub.of, possible)
    if sup.kind == "named" and sub.kind == "named" and possible is not None:
        return sub.name in possible.get(sup.name, frozenset())
    return False


def is_strict_subtype(
    sup: TypeRef, sub: TypeRef, possible: Mapping[str, Set[str]] | None = None
) -> bool:
    return sup != sub and is_subtype(sup, sub, possible)
