"""Every composition error: its stable code and a message naming what is wrong and where."""

from __future__ import annotations

import pytest
from gateway.compose import CompositionError, CompositionIssue, SubgraphSource, compose

FED2 = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", '
    '"@shareable", "@external", "@requires", "@provides", "@override", "@inaccessible", '
    '"@interfaceObject"])\n'
)


def issues(**subgraphs: str) -> list[CompositionIssue]:
    sources = [
        SubgraphSource(name, f"http://{name}/graphql", FED2 + sdl)
        for name, sdl in subgraphs.items()
    ]
    with pytest.raises(CompositionError) as caught:
        compose(sources)
    return caught.value.issues


def only(found: list[CompositionIssue]) -> CompositionIssue:
    assert len(found) == 1, [str(i) for i in found]
    return found[0]


def test_conflicting_field_types() -> None:
    issue = only(
        issues(
            a='type Query { t: T } type T @key(fields: "id") { id: ID! size: String @shareable }',
            b='type T @key(fields: "id") { id: ID! size: Int @shareable }',
        )
    )
    assert issue.code == "FIELD_TYPE_MISMATCH"
    assert issue.message == (
        'Type of field "T.size" is incompatible across subgraphs: it has type "String" in '
        'subgraph "a" but type "Int" in subgraph "b"'
    )
    assert issue.coordinate == "T.size"
    assert issue.subgraphs == ("a", "b")
    # Line 1 of each subgraph is the `extend schema @link(...)` header.
    assert [str(loc) for loc in issue.locations] == ["a:2:57", "b:2:37"]


def test_list_and_single_value_do_not_mix() -> None:
    issue = only(
        issues(
            a='type Query { t: T } type T @key(fields: "id") { id: ID! tags: [String] @shareable }',
            b='type T @key(fields: "id") { id: ID! tags: String @shareable }',
        )
    )
    assert issue.code == "FIELD_TYPE_MISMATCH"


def test_field_in_two_subgraphs_without_shareable() -> None:
    issue = only(
        issues(
            a='type Query { t: T } type T @key(fields: "id") { id: ID! name: String }',
            b='type T @key(fields: "id") { id: ID! name: String }',
        )
    )
    assert issue.code == "INVALID_FIELD_SHARING"
    assert issue.message == (
        'Non-shareable field "T.name" is resolved from multiple subgraphs: it is resolved from '
        'subgraphs "a" and "b" and defined as non-shareable in all of them'
    )


def test_shareable_in_one_subgraph_only_names_the_other() -> None:
    issue = only(
        issues(
            a='type Query { t: T } type T @key(fields: "id") { id: ID! name: String @shareable }',
            b='type T @key(fields: "id") { id: ID! name: String }',
            c='type T @key(fields: "id") { id: ID! name: String @shareable }',
        )
    )
    assert issue.code == "INVALID_FIELD_SHARING"
    assert issue.message.endswith(
        'resolved from subgraphs "a", "b" and "c" and defined as non-shareable in subgraph "b"'
    )


def test_root_fields_are_not_implicitly_shareable() -> None:
    issue = only(issues(a="type Query { hello: String }", b="type Query { hello: String }"))
    assert issue.code == "INVALID_FIELD_SHARING"
    assert '"Query.hello"' in issue.message


def test_key_naming_a_missing_field() -> None:
    issue = only(issues(a='type Query { t: T } type T @key(fields: "uuid") { id: ID! }'))
    assert issue.code == "KEY_INVALID_FIELDS"
    assert issue.message == (
        '[a] On type "T", for @key(fields: "uuid"): Cannot query field "uuid" on type "T" (the '
        "field should either be added to this subgraph or, if it should not be resolved by this "
        "subgraph, you need to add it to this subgraph with @external)."
    )


def test_key_selecting_an_abstract_type() -> None:
    issue = only(
        issues(
            a='type Query { t: T } type T @key(fields: "owner { id }") { owner: Owner! } '
            "interface Owner { id: ID! } type Person implements Owner { id: ID! }"
        )
    )
    assert issue.code == "KEY_FIELDS_SELECT_INVALID_TYPE"
    assert issue.message == (
        '[a] On type "T", for @key(fields: "owner { id }"): field "T.owner" is a Interface type '
        "which is not allowed in @key"
    )


def test_key_field_with_arguments() -> None:
    issue = only(
        issues(a='type Query { t: T } type T @key(fields: "id(x: 1)") { id(x: Int): ID! }')
    )
    assert issue.code == "KEY_FIELDS_HAS_ARGS"


def test_key_composite_field_without_selection_and_bad_syntax() -> None:
    found = issues(
        a='type Query { t: T } type T @key(fields: "owner") @key(fields: "id {") '
        "{ id: ID! owner: O! } type O { id: ID! }"
    )
    assert [i.code for i in found] == ["KEY_INVALID_FIELDS", "KEY_INVALID_FIELDS"]
    assert found[0].message == (
        '[a] On type "T", for @key(fields: "owner"): Invalid empty selection set for field '
        '"T.owner" of non-leaf type O!'
    )
    assert found[1].message.startswith('[a] On type "T", for @key(fields: "id {"): Syntax Error')


def test_requires_naming_a_missing_field() -> None:
    issue = only(
        issues(
            a='type Query { t: T } type T @key(fields: "id") { id: ID! weight: Int @shareable }',
            b='type T @key(fields: "id") { id: ID! cost: Int @requires(fields: "wieght") }',
        )
    )
    assert issue.code == "REQUIRES_INVALID_FIELDS"
    assert issue.message.startswith(
        '[b] On field "T.cost", for @requires(fields: "wieght"): Cannot query field "wieght" on '
        'type "T"'
    )


def test_requires_of_a_field_that_is_not_external() -> None:
    issue = only(
        issues(
            a='type Query { t: T } type T @key(fields: "id") { id: ID! weight: Int @shareable }',
            b='type T @key(fields: "id") { id: ID! weight: Int @shareable '
            'cost: Int @requires(fields: "weight") }',
        )
    )
    assert issue.code == "REQUIRES_FIELDS_MISSING_EXTERNAL"
    assert 'field "T.weight" should not be part of a @requires' in issue.message


def test_provides_naming_a_missing_field() -> None:
    found = issues(
        a='type Query { u: U } type U @key(fields: "id") { id: ID! name: String @shareable }',
        b='type Query { top: U @provides(fields: "nmae") } '
        'type U @key(fields: "id") { id: ID! name: String @external }',
    )
    # The external field the typo meant to provide is then unused as well.
    assert [i.code for i in found] == ["PROVIDES_INVALID_FIELDS", "EXTERNAL_UNUSED"]
    assert found[0].message.startswith(
        '[b] On field "Query.top", for @provides(fields: "nmae"): Cannot query field "nmae"'
    )


def test_provides_on_a_scalar_field() -> None:
    """Providing a field the subgraph resolves anyway is harmless and accepted."""
    found = issues(
        a='type Query { n: Int @provides(fields: "x") u: U @provides(fields: "name") } '
        'type U @key(fields: "id") { id: ID! name: String }'
    )
    assert [i.code for i in found] == ["PROVIDES_ON_NON_OBJECT_FIELD"]
    assert found[0].message == (
        '[a] Invalid @provides directive on field "Query.n": field has type "Int" which is not '
        "a Composite Type"
    )


def test_provided_field_must_be_shareable_where_it_is_defined() -> None:
    issue = only(
        issues(
            a='type Query { u: U } type U @key(fields: "id") { id: ID! name: String }',
            b='type Query { top: U @provides(fields: "name") } '
            'type U @key(fields: "id") { id: ID! name: String @external }',
        )
    )
    assert issue.code == "INVALID_FIELD_SHARING"
    assert issue.message.endswith('defined as non-shareable in subgraph "a"')


def test_field_external_everywhere() -> None:
    issue = only(
        issues(
            a='type Query { t: T } type T @key(fields: "id") { id: ID! w: Int @external '
            'c: Int @requires(fields: "w") }'
        )
    )
    assert issue.code == "EXTERNAL_MISSING_ON_BASE"
    assert issue.message == (
        'Field "T.w" is marked @external on all the subgraphs in which it is listed (subgraph "a").'
    )


def test_kind_mismatch() -> None:
    issue = only(
        issues(
            a="type Query { a: A } type A { id: ID }",
            b="type Query { b: String } interface A { id: ID }",
        )
    )
    assert issue.code == "TYPE_KIND_MISMATCH"
    assert issue.message == (
        'Type "A" has mismatched kind: it is defined as Object Type in subgraph "a" but '
        'Interface Type in subgraph "b"'
    )


def test_required_input_field_missing_in_a_subgraph() -> None:
    issue = only(
        issues(
            a="type Query { a(i: In): Int } input In { x: Int! y: Int }",
            b="type Query { b(i: In): Int } input In { y: Int }",
        )
    )
    assert issue.code == "REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH"
    assert issue.message == (
        'Input object field "In.x" is required in some subgraphs but does not appear in all '
        'subgraphs: it is required in subgraph "a" but does not appear in subgraph "b"'
    )


def test_input_type_with_no_common_field() -> None:
    issue = only(
        issues(
            a="type Query { a(i: In): Int } input In { x: Int }",
            b="type Query { b(i: In): Int } input In { y: Int }",
        )
    )
    assert issue.code == "EMPTY_MERGED_INPUT_TYPE"


def test_required_argument_missing_in_a_subgraph() -> None:
    issue = only(
        issues(
            a='type Query { t: T } type T @key(fields: "id") { id: ID! f(x: Int!): Int @shareable }',
            b='type T @key(fields: "id") { id: ID! f: Int @shareable }',
        )
    )
    assert issue.code == "REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH"
    assert issue.coordinate == "T.f(x:)"


def test_argument_types_and_defaults_that_conflict() -> None:
    found = issues(
        a='type Query { t: T } type T @key(fields: "id") { id: ID! '
        "f(x: Int, y: Int = 1): Int @shareable }",
        b='type T @key(fields: "id") { id: ID! f(x: String, y: Int = 2): Int @shareable }',
    )
    assert [i.code for i in found] == [
        "FIELD_ARGUMENT_TYPE_MISMATCH",
        "FIELD_ARGUMENT_DEFAULT_MISMATCH",
    ]
    assert found[0].message == (
        'Type of argument "T.f(x:)" is incompatible across subgraphs: it has type "Int" in '
        'subgraph "a" but type "String" in subgraph "b"'
    )
    assert found[1].message == (
        'Argument "T.f(y:)" has incompatible default values across subgraphs: it has default '
        'value 1 in subgraph "a" but default value 2 in subgraph "b"'
    )


def test_enum_used_as_input_and_output_must_match() -> None:
    issue = only(
        issues(
            a="type Query { a(s: S): S } enum S { ON OFF }",
            b="type Query { b: S } enum S { ON }",
        )
    )
    assert issue.code == "ENUM_VALUE_MISMATCH"
    assert issue.message == (
        'Enum type "S" is used as both input type (for example, as type of "Query.a(s:)") and '
        'output type (for example, as type of "Query.a"), but value "OFF" is not defined in all '
        'the subgraphs defining "S": "OFF" is defined in subgraph "a" but not in subgraph "b"'
    )


def test_override_from_self() -> None:
    issue = only(issues(a='type Query { t: Int @override(from: "a") }', b="type Query { u: Int }"))
    assert issue.code == "OVERRIDE_FROM_SELF_ERROR"


def test_unparseable_subgraph_and_missing_query() -> None:
    found = issues(a="type Query {")
    assert [i.code for i in found] == ["INVALID_GRAPHQL"]
    assert found[0].message == (
        "[a] the subgraph schema does not parse: Syntax Error: Expected Name, found <EOF>. "
        "(line 2, column 13)"
    )
    assert [i.code for i in issues(a="type T { x: Int }")] == ["NO_QUERIES"]


def test_duplicate_subgraph_names() -> None:
    with pytest.raises(CompositionError) as caught:
        compose([SubgraphSource("a", "http://a", "type Query { a: Int }")] * 2)
    assert caught.value.codes == ["INVALID_SUBGRAPH_NAME"]


def test_every_error_is_reported_in_one_pass() -> None:
    found = issues(
        a='type Query { t: T } type T @key(fields: "id") { id: ID! x: Int y: Int }',
        b='type T @key(fields: "id") { id: ID! x: Int y: String }',
    )
    assert [(i.code, i.coordinate) for i in found] == [
        ("INVALID_FIELD_SHARING", "T.x"),
        ("FIELD_TYPE_MISMATCH", "T.y"),
        ("INVALID_FIELD_SHARING", "T.y"),
    ]
    assert "[FIELD_TYPE_MISMATCH]" in str(CompositionError(found))


# -- satisfiability --------------------------------------------------------------------


def test_entity_extension_whose_owner_has_no_key() -> None:
    """`Tour.listing` leads to a Listing whose `title` lives where no key can reach it."""
    issue = only(
        issues(
            listings="type Query { listing: Listing } type Listing { id: ID! @shareable title: String! }",
            scheduling="type Query { tour: Tour } type Tour { id: ID! listing: Listing! } "
            'type Listing @key(fields: "id") { id: ID! tours: [Tour!]! }',
        )
    )
    assert issue.code == "SATISFIABILITY_ERROR"
    assert issue.coordinate == "Listing.title"
    assert issue.message == (
        "The following supergraph API query:\n"
        "{\n"
        "  tour {\n"
        "    listing {\n"
        "      title\n"
        "    }\n"
        "  }\n"
        "}\n"
        "cannot be satisfied by the subgraphs because:\n"
        '- from subgraph "scheduling":\n'
        '  - cannot find field "Listing.title".\n'
        '  - cannot move to subgraph "listings", which has field "Listing.title", because type '
        '"Listing" has no @key defined in subgraph "listings".'
    )


def test_type_reachable_only_through_unresolvable_keys() -> None:
    issue = only(
        issues(
            a='type Query { me: User } type User @key(fields: "id", resolvable: false) { id: ID! }',
            b='type User @key(fields: "id", resolvable: false) { id: ID! name: String }',
        )
    )
    assert issue.code == "SATISFIABILITY_ERROR"
    assert 'none of the @key defined on type "User" in subgraph "b" are resolvable' in (
        issue.message
    )


def test_key_fields_the_current_subgraph_cannot_provide() -> None:
    found = issues(
        a='type Query { me: User } type User @key(fields: "id") { id: ID! }',
        b='type User @key(fields: "email") { email: String! name: String }',
    )
    assert [i.coordinate for i in found] == ["User.email", "User.name"]
    issue = found[0]
    assert issue.code == "SATISFIABILITY_ERROR"
    assert issue.coordinate == "User.email"
    assert (
        'cannot move to subgraph "b" using @key(fields: "email") of "User", the key field(s) '
        'cannot be resolved from subgraph "a".'
    ) in issue.message


def test_mutation_paths_are_checked_too() -> None:
    issue = only(
        issues(
            a="type Query { ok: Int } type Mutation { make: Thing } type Thing { id: ID! @shareable }",
            b="type Thing { id: ID! @shareable label: String }",
        )
    )
    assert issue.code == "SATISFIABILITY_ERROR"
    assert issue.message.startswith(
        "The following supergraph API query:\nmutation {\n  make {\n    label\n  }\n}\n"
    )


def test_unknown_and_misused_types_in_a_subgraph() -> None:
    found = issues(a="type Query { t: Thing f(i: Out): Int } type Out { x: Int }")
    assert [i.code for i in found] == ["INVALID_GRAPHQL", "INVALID_GRAPHQL"]
    assert found[0].message == '[a] Unknown type Thing (used by "Query.t").'
    assert found[1].message == (
        '[a] The type of "Query.f(i:)" must be an input type but got "Out" (Object Type).'
    )


def test_interface_field_missing_on_an_implementation() -> None:
    issue = only(
        issues(
            a="type Query { i: I } interface I { x: Int } type O implements I { x: Int }",
            b="interface I { x: Int y: Int } type P implements I { x: Int y: Int }",
        )
    )
    assert issue.code == "INTERFACE_FIELD_NO_IMPLEM"
    assert issue.message == (
        'Interface field "I.y" is declared in subgraph "b" but type "O", which implements "I" '
        'only in subgraph "a" does not have field "y".'
    )


def test_the_result_is_validated_as_a_graphql_schema() -> None:
    issue = only(
        issues(
            a="type Query { i: I } interface I { x: Int! } "
            "type O implements I { x: Int! @shareable }",
            b="type Query { o: O @shareable } type O { x: Int @shareable }",
        )
    )
    assert issue.code == "INVALID_GRAPHQL"
    assert issue.message.startswith("The composed supergraph is not a valid schema: ")
    assert "I.x" in issue.message and "O.x" in issue.message


def test_requires_that_cannot_be_fetched() -> None:
    found = issues(
        a='type Query { t: T } type T @key(fields: "id") { id: ID! '
        'cost: Int @requires(fields: "weight") weight: Int @external }',
        b="type T { id: ID! @shareable weight: Int }",
    )
    assert [(i.code, i.coordinate) for i in found] == [
        ("SATISFIABILITY_ERROR", "T.cost"),
        ("SATISFIABILITY_ERROR", "T.weight"),
    ]
    assert found[0].message.endswith(
        '- from subgraph "a": cannot satisfy @require conditions on field "T.cost".'
    )


def test_external_field_that_nothing_uses() -> None:
    issue = only(
        issues(
            a='type Query { t: T } type T @key(fields: "id") { id: ID! w: Int @shareable }',
            b='type T @key(fields: "id") { id: ID! w: Int @external }',
        )
    )
    assert issue.code == "EXTERNAL_UNUSED"
    assert issue.message.startswith('[b] Field "T.w" is marked @external but is not used')


def test_interface_object_without_the_interface() -> None:
    found = issues(
        a='type Query { m: Media } type Media @key(fields: "id") @interfaceObject { id: ID! }'
    )
    assert found[0].code == "INTERFACE_OBJECT_USAGE_ERROR"
    assert found[0].message == (
        'Type "Media" is declared with @interfaceObject in all the subgraphs in which it is '
        'defined (it is defined in subgraph "a" but should be defined as an interface in at '
        "least one subgraph)"
    )


def test_subscription_fields_have_one_owner() -> None:
    issue = only(
        issues(
            a="type Query { a: Int } type Subscription { ticks: Int @shareable }",
            b="type Query { b: Int } type Subscription { ticks: Int @shareable }",
        )
    )
    assert issue.code == "INVALID_FIELD_SHARING"
    assert issue.message == (
        "Fields on root level subscription object cannot be marked as shareable"
    )


def test_inaccessible_elements_must_leave_a_valid_api_schema() -> None:
    found = issues(
        a="type Query { u: U s(i: In): Int e: E un: Un } type U @inaccessible { x: Int } "
        "input In { a: Int! @inaccessible b: Int } enum E { A @inaccessible } "
        "type X @inaccessible { x: Int } union Un = X "
        "type T { f(x: Int! @inaccessible): Int } type Hidden { a: Int @inaccessible } "
        "type Other { h: Hidden t: T }"
    )
    assert [(i.code, i.message) for i in found] == [
        (
            "REFERENCED_INACCESSIBLE",
            'Type "U" is @inaccessible but is referenced by "Query.u", which is in the API schema.',
        ),
        (
            "REQUIRED_INACCESSIBLE",
            'Input field "In.a" is @inaccessible but is a required input field of its type.',
        ),
        (
            "ONLY_INACCESSIBLE_CHILDREN",
            'Type "E" is in the API schema but all of its values are @inaccessible.',
        ),
        (
            "ONLY_INACCESSIBLE_CHILDREN",
            'Type "Un" is in the API schema but all of its members are @inaccessible.',
        ),
        (
            "REQUIRED_INACCESSIBLE",
            'Argument "T.f(x:)" is @inaccessible but is a required argument of its field.',
        ),
        (
            "ONLY_INACCESSIBLE_CHILDREN",
            'Type "Hidden" is in the API schema but all of its fields are @inaccessible.',
        ),
    ]
