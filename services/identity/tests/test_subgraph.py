"""The subgraph's contract: entity resolution, field visibility, admin queries, profile
changes, sessions, and coded errors for bad input with nothing half-written."""

from __future__ import annotations

import uuid
from typing import Any

from identity.manage import execute
from identity.tables import users
from sqlalchemy import event, func, select

from .conftest import PASSWORD, REGISTER, Identity

ENTITIES = """query($r: [_Any!]!) {
  _entities(representations: $r) { ... on User { id displayName role } }
}"""
LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken }
}"""


def code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def admin_token(identity: Identity) -> str:
    email = f"admin-{uuid.uuid4().hex[:6]}@example.com"
    assert (
        await execute(
            [
                "create-admin",
                "--email",
                email,
                "--display-name",
                "Operator",
                "--password",
                PASSWORD,
            ],
            identity.settings,
        )
        == 0
    )
    data = await identity.ok(LOGIN, {"email": email, "password": PASSWORD})
    return str(data["login"]["accessToken"])


async def test_entities_resolve_in_one_query(identity: Identity) -> None:
    ids = [(await identity.register())["user"]["id"] for _ in range(3)]
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM users" in statement:
            statements.append(statement)

    engine = identity.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        reps = [{"__typename": "User", "id": i} for i in [*ids, str(uuid.uuid4()), "bad-id"]]
        data = await identity.ok(ENTITIES, {"r": reps})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    found = data["_entities"]
    assert [e["id"] for e in found[:3]] == ids and found[3:] == [None, None]
    assert len(statements) == 1


async def test_private_fields_are_for_the_user_and_admins(identity: Identity) -> None:
    alice = await identity.register(role="REALTOR")
    bob = await identity.register()
    query = "query($id: ID!) { user(id: $id) { id displayName role avatarUrl createdAt realtorProfile { verified } } }"
    public = await identity.ok(query, {"id": alice["user"]["id"]}, token=bob["accessToken"])
    assert public["user"]["role"] == "REALTOR"
    assert public["user"]["realtorProfile"] == {"verified": False}
    private = "query($id: ID!) { user(id: $id) { id email } }"
    for token in (bob["accessToken"], None):
        body = await identity.gql(private, {"id": alice["user"]["id"]}, token=token)
        assert code(body) == "FORBIDDEN" and body["data"] == {"user": None}
    own = await identity.ok(private, {"id": alice["user"]["id"]}, token=alice["accessToken"])
    assert own["user"]["email"] == alice["user"]["email"]
    admin = await admin_token(identity)
    seen = await identity.ok(private, {"id": alice["user"]["id"]}, token=admin)
    assert seen["user"]["email"] == alice["user"]["email"]


async def test_me_is_null_when_anonymous_and_rejects_bad_tokens(identity: Identity) -> None:
    assert (await identity.ok("{ me { id } }")) == {"me": None}
    body = await identity.gql("{ me { id } }", token="not.a.jwt")
    assert code(body) == "UNAUTHENTICATED"


async def test_admin_lists_searches_and_pages_users(identity: Identity) -> None:
    admin = await admin_token(identity)
    for i in range(3):
        await identity.register(f"realtor{i}-{uuid.uuid4().hex[:4]}@homes.example", role="REALTOR")
    await identity.register()
    query = """query($role: Role, $search: String, $first: Int, $after: String) {
      users(role: $role, search: $search, first: $first, after: $after) {
        totalCount edges { cursor node { email role } } pageInfo { hasNextPage endCursor }
      }
    }"""
    page = (await identity.ok(query, {"role": "REALTOR", "first": 2}, token=admin))["users"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"] is True
    rest = await identity.ok(
        query, {"role": "REALTOR", "first": 2, "after": page["pageInfo"]["endCursor"]}, token=admin
    )
    emails = [e["node"]["email"] for e in page["edges"] + rest["users"]["edges"]]
    assert len(set(emails)) == 3 and rest["users"]["pageInfo"]["hasNextPage"] is False
    found = await identity.ok(query, {"search": "HOMES.example"}, token=admin)
    assert found["users"]["totalCount"] == 3
    literal = await identity.ok(query, {"search": "%"}, token=admin)
    assert literal["users"]["totalCount"] == 0
    buyer = await identity.register()
    assert code(await identity.gql(query, {}, token=buyer["accessToken"])) == "FORBIDDEN"
    assert code(await identity.gql(query, {})) == "UNAUTHENTICATED"
    bad = await identity.gql(query, {"after": "!!"}, token=admin)
    assert code(bad) == "BAD_USER_INPUT"


async def test_admin_verifies_realtors_and_changes_roles(identity: Identity) -> None:
    admin = await admin_token(identity)
    realtor = (await identity.register(role="REALTOR"))["user"]["id"]
    verify = """mutation($id: ID!) { setRealtorVerified(userId: $id, verified: true) {
      realtorProfile { verified } } }"""
    data = await identity.ok(verify, {"id": realtor}, token=admin)
    assert data["setRealtorVerified"]["realtorProfile"] == {"verified": True}
    role = "mutation($id: ID!, $r: Role!) { setUserRole(userId: $id, role: $r) { role } }"
    data = await identity.ok(role, {"id": realtor, "r": "BUYER"}, token=admin)
    assert data["setUserRole"]["role"] == "BUYER"
    refused = await identity.gql(role, {"id": realtor, "r": "ADMIN"}, token=admin)
    assert code(refused) == "FORBIDDEN"
    missing = await identity.gql(role, {"id": str(uuid.uuid4()), "r": "BUYER"}, token=admin)
    assert code(missing) == "NOT_FOUND"


async def test_update_profile(identity: Identity) -> None:
    realtor = await identity.register(role="REALTOR")
    mutation = """mutation($i: UpdateProfileInput!) { updateProfile(input: $i) {
      displayName phone avatarUrl timeZone realtorProfile { licenseNumber brokerage bio verified } } }"""
    changes = {
        "displayName": "  Ada   Lovelace ",
        "phone": "+1 (415) 555-0100",
        "avatarUrl": "https://cdn.example.com/a.png",
        "timeZone": "America/New_York",
        "realtorProfile": {"licenseNumber": "CA-123", "brokerage": "Bay Homes", "bio": "Hi"},
    }
    data = await identity.ok(mutation, {"i": changes}, token=realtor["accessToken"])
    assert data["updateProfile"] == {
        "displayName": "Ada Lovelace",
        "phone": "+14155550100",
        "avatarUrl": "https://cdn.example.com/a.png",
        "timeZone": "America/New_York",
        "realtorProfile": {
            "licenseNumber": "CA-123",
            "brokerage": "Bay Homes",
            "bio": "Hi",
            "verified": False,
        },
    }
    for bad in (
        {"timeZone": "Mars/Olympus"},
        {"phone": "12"},
        {"avatarUrl": "javascript:alert(1)"},
        {"displayName": "x" * 101},
        {"realtorProfile": {"bio": "b" * 5000}},
    ):
        body = await identity.gql(mutation, {"i": bad}, token=realtor["accessToken"])
        assert code(body) == "BAD_USER_INPUT", bad
    buyer = await identity.register()
    body = await identity.gql(
        mutation, {"i": {"realtorProfile": {"bio": "x"}}}, token=buyer["accessToken"]
    )
    assert code(body) == "BAD_USER_INPUT"
    assert code(await identity.gql(mutation, {"i": {"displayName": "x"}})) == "UNAUTHENTICATED"


async def test_change_password_keeps_this_session_and_ends_the_others(identity: Identity) -> None:
    registered = await identity.register()
    email = registered["user"]["email"]
    other = (await identity.ok(LOGIN, {"email": email, "password": PASSWORD}))["login"]
    mutation = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
    wrong = await identity.gql(
        mutation,
        {"c": "nope nope nope", "n": "pale lantern drifts east"},
        token=registered["accessToken"],
    )
    assert code(wrong) == "UNAUTHENTICATED"
    weak = await identity.gql(
        mutation, {"c": PASSWORD, "n": "password1234"}, token=registered["accessToken"]
    )
    assert code(weak) == "BAD_USER_INPUT"
    done = await identity.ok(
        mutation, {"c": PASSWORD, "n": "pale lantern drifts east"}, token=registered["accessToken"]
    )
    assert done["changePassword"] is True
    refresh = "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }"
    assert "errors" not in await identity.gql(refresh, {"t": registered["refreshToken"]})
    assert code(await identity.gql(refresh, {"t": other["refreshToken"]})) == "UNAUTHENTICATED"


async def test_logout_ends_the_session(identity: Identity) -> None:
    registered = await identity.register()
    logout = "mutation($t: String!) { logout(refreshToken: $t) }"
    assert (await identity.ok(logout, {"t": registered["refreshToken"]}))["logout"] is True
    refresh = "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }"
    assert code(await identity.gql(refresh, {"t": registered["refreshToken"]})) == (
        "UNAUTHENTICATED"
    )
    assert code(await identity.gql(logout, {"t": "unknown"})) == "UNAUTHENTICATED"


async def test_resend_verification_replaces_the_link(identity: Identity) -> None:
    registered = await identity.register()
    email = registered["user"]["email"]
    first = await identity.link_token(email, "Confirm", "verify-email")
    resend = "mutation { resendVerificationEmail }"
    assert (await identity.ok(resend, token=registered["accessToken"]))["resendVerificationEmail"]
    await identity.service.mail.drain()
    second = await identity.link_token(email, "Confirm", "verify-email")
    assert second != first
    verify = "mutation($t: String!) { verifyEmail(token: $t) }"
    assert code(await identity.gql(verify, {"t": first})) == "BAD_USER_INPUT"
    assert (await identity.ok(verify, {"t": second}))["verifyEmail"] is True
    again = await identity.ok(resend, token=registered["accessToken"])
    assert again["resendVerificationEmail"] is False


BAD_REGISTRATIONS: list[tuple[dict[str, Any], str | None]] = [
    ({"email": "not-an-email"}, None),
    ({"email": "a@" + "b" * 250 + ".com"}, None),
    ({"password": "short pass"}, "WEAK_PASSWORD"),
    ({"password": "iloveyou1234"}, "WEAK_PASSWORD"),
    ({"password": "x" * 300}, "WEAK_PASSWORD"),
    ({"email": "marguerite@example.com", "password": "marguerite-rocks-2026"}, "WEAK_PASSWORD"),
    ({"displayName": "   "}, None),
    ({"displayName": "n" * 101}, None),
    ({"timeZone": "Nowhere/City"}, None),
    ({"role": "ADMIN"}, None),
    ({"phone": "call me"}, None),
]


async def test_bad_registrations_are_refused_and_write_nothing(identity: Identity) -> None:
    for changes, reason in BAD_REGISTRATIONS:
        account = {
            "email": f"new-{uuid.uuid4().hex[:6]}@example.com",
            "password": PASSWORD,
            "displayName": "New Person",
            "role": "BUYER",
            "timeZone": "UTC",
            **changes,
        }
        body = await identity.gql(REGISTER, {"input": account})
        assert code(body) == "BAD_USER_INPUT", changes
        if reason:
            assert body["errors"][0]["extensions"]["reason"] == reason, changes
    async with identity.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(users))).scalar_one() == 0
    await identity.service.mail.drain()
    assert identity.mail.messages() == []


async def test_duplicate_email_is_a_conflict_whatever_the_case(identity: Identity) -> None:
    email = f"dup-{uuid.uuid4().hex[:6]}@example.com"
    await identity.register(email)
    body = await identity.gql(
        REGISTER,
        {
            "input": {
                "email": f"  {email.upper()} ",
                "password": PASSWORD,
                "displayName": "Twin",
                "role": "BUYER",
                "timeZone": "UTC",
            }
        },
    )
    assert code(body) == "CONFLICT"
    async with identity.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(users))).scalar_one() == 1


async def test_unknown_tokens_are_clear_errors(identity: Identity) -> None:
    verify = "mutation($t: String!) { verifyEmail(token: $t) }"
    reset = (
        'mutation($t: String!) { resetPassword(token: $t, newPassword: "quiet meadow lark song") }'
    )
    for query in (verify, reset):
        for token in ("unknown-token", "", "x" * 10_000):
            body = await identity.gql(query, {"t": token})
            assert code(body) == "BAD_USER_INPUT"
            assert body["errors"][0]["extensions"]["reason"] == "INVALID_TOKEN"


async def test_expired_reset_link_is_refused(identity: Identity) -> None:
    email = (await identity.register())["user"]["email"]
    await identity.ok("mutation($e: String!) { requestPasswordReset(email: $e) }", {"e": email})
    token = await identity.link_token(email, "Reset", "reset-password")
    identity.clock.advance(identity.settings.reset_token_ttl + 1)
    body = await identity.gql(
        'mutation($t: String!) { resetPassword(token: $t, newPassword: "quiet meadow lark song") }',
        {"t": token},
    )
    assert code(body) == "BAD_USER_INPUT"


async def test_the_subgraph_publishes_user_as_an_entity(identity: Identity) -> None:
    sdl = (await identity.ok("{ _service { sdl } }"))["_service"]["sdl"]
    assert 'type User @key(fields: "id")' in sdl
    for operation in (
        "me: User",
        "user(id: ID!): User",
        "register(input: RegisterInput!): AuthPayload!",
        "deleteMyAccount(password: String!): Boolean!",
    ):
        assert operation in sdl, operation


async def test_refresh_tokens_expire(identity: Identity) -> None:
    registered = await identity.register()
    identity.clock.advance(identity.settings.refresh_token_ttl + 1)
    refresh = "mutation($t: String!) { refreshToken(refreshToken: $t) { refreshToken } }"
    body = await identity.gql(refresh, {"t": registered["refreshToken"]})
    assert code(body) == "UNAUTHENTICATED"


async def test_bad_input_names_the_field_by_its_path_in_the_operation(identity: Identity) -> None:
    def field(body: dict[str, Any]) -> str:
        assert code(body) in ("BAD_USER_INPUT", "CONFLICT", "UNAUTHENTICATED"), body
        return str(body["errors"][0]["extensions"]["field"])

    account = {
        "email": "not-an-email",
        "password": PASSWORD,
        "displayName": "New Person",
        "role": "BUYER",
        "timeZone": "UTC",
    }
    assert field(await identity.gql(REGISTER, {"input": account})) == "input.email"
    weak = {**account, "email": "fine@example.com", "password": "password1234"}
    assert field(await identity.gql(REGISTER, {"input": weak})) == "input.password"
    registered = await identity.register(role="REALTOR")
    token = registered["accessToken"]
    taken = {**account, "email": registered["user"]["email"]}
    assert field(await identity.gql(REGISTER, {"input": taken})) == "input.email"
    update = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }"
    nested = {"realtorProfile": {"bio": "b" * 5000}}
    body = await identity.gql(update, {"i": nested}, token=token)
    assert field(body) == "input.realtorProfile.bio"
    body = await identity.gql(update, {"i": {"timeZone": "Mars/Olympus"}}, token=token)
    assert field(body) == "input.timeZone"
    change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
    assert field(await identity.gql(change, {"c": PASSWORD, "n": "x"}, token=token)) == (
        "newPassword"
    )
    wrong = await identity.gql(change, {"c": "not it at all", "n": "x"}, token=token)
    assert field(wrong) == "currentPassword"
    admin = await admin_token(identity)
    role = "mutation($id: ID!) { setUserRole(userId: $id, role: BUYER) { id } }"
    assert field(await identity.gql(role, {"id": "nope"}, token=admin)) == "userId"
    missing = await identity.gql(role, {"id": str(uuid.uuid4())}, token=admin)
    assert code(missing) == "NOT_FOUND" and missing["errors"][0]["extensions"]["field"] == "userId"
    users_query = "query($a: String) { users(after: $a) { totalCount } }"
    assert field(await identity.gql(users_query, {"a": "!!"}, token=admin)) == "after"
    assert field(await identity.gql('{ user(id: "x") { id } }')) == "id"
