"""Checks that hiding elements with `@inaccessible` still leaves a valid API schema.

The API schema clients see drops everything `@inaccessible`; what remains must not point
at a hidden type, must not hide something a client is forced to send (a required argument
or input field), and must not leave a visible type with nothing visible inside.
"""

from __future__ import annotations

from .model import Supergraph
from .subgraph import ENUM, INPUT, INTERFACE, OBJECT, UNION
from .types import IssueLog

HIDDEN = "@inaccessible"


def check_inaccessible(supergraph: Supergraph, issues: IssueLog) -> None:
    """Report what `@inaccessible` would break in the API schema."""
    if not supergraph.uses_inaccessible:
        return
    hidden_types = {n for n, t in supergraph.types.items() if HIDDEN in t.directives}

    def referenced(type_name: str, coordinate: str) -> None:
        if type_name in hidden_types:
            issues.add(
                "REFERENCED_INACCESSIBLE",
                f'Type "{type_name}" is @inaccessible but is referenced by "{coordinate}", '
                "which is in the API schema.",
                coordinate=coordinate,
            )

    for name, definition in supergraph.types.items():
        if name in hidden_types:
            continue
        if definition.kind in (OBJECT, INTERFACE, INPUT):
            visible = [f for f in definition.fields.values() if HIDDEN not in f.directives]
            for item in definition.fields.values():
                coordinate = f"{name}.{item.name}"
                if HIDDEN in item.directives:
                    if definition.kind == INPUT and item.type.is_non_null and item.default is None:
                        issues.add(
                            "REQUIRED_INACCESSIBLE",
                            f'Input field "{coordinate}" is @inaccessible but is a required '
                            "input field of its type.",
                            coordinate=coordinate,
                        )
                    continue
                referenced(item.type.named, coordinate)
                for arg in item.args:
                    arg_coordinate = f"{coordinate}({arg.name}:)"
                    if HIDDEN in arg.directives:
                        if arg.type.is_non_null and arg.default is None:
                            issues.add(
                                "REQUIRED_INACCESSIBLE",
                                f'Argument "{arg_coordinate}" is @inaccessible but is a required '
                                "argument of its field.",
                                coordinate=arg_coordinate,
                            )
                        continue
                    referenced(arg.type.named, arg_coordinate)
            if definition.fields and not visible:
                issues.add(
                    "ONLY_INACCESSIBLE_CHILDREN",
                    f'Type "{name}" is in the API schema but all of its fields are @inaccessible.',
                    coordinate=name,
                )
        elif (
            definition.kind == ENUM
            and definition.values
            and all(HIDDEN in v.directives for v in definition.values)
        ):
            issues.add(
                "ONLY_INACCESSIBLE_CHILDREN",
                f'Type "{name}" is in the API schema but all of its values are @inaccessible.',
                coordinate=name,
            )
        elif (
            definition.kind == UNION
            and definition.members
            and all(m in hidden_types for m in definition.members)
        ):
            issues.add(
                "ONLY_INACCESSIBLE_CHILDREN",
                f'Type "{name}" is in the API schema but all of its members are @inaccessible.',
                coordinate=name,
            )
