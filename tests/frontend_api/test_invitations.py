"""Invitations: invite by email, accept by link, list and revoke; all inside one tenant."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pyotp
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient, TestClient
from sqlalchemy import Select, select, update

from core.crypto.keyring import open_database
from core.kernel.clock import utcnow
from core.kernel.models import Tenant
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.security.models import Invitation, User
from frontend_api.app import create_app
from tests.helpers import PASSWORD, bearer, login, sent_mail, signup, unique_email

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Mail is sent by a job: these tests run the in-process job worker."""
    return dataclasses.replace(settings, background_jobs=True)


def _role_id(client: TestClient[Any], who: dict[str, Any], name: str) -> str:
    roles = client.get("/api/v1/roles?limit=200", headers=who["headers"]).json()["items"]
    return next(r["id"] for r in roles if r["name"] == name)


def _invite(client: TestClient[Any], who: dict[str, Any], email: str, role: str = "sales_rep") -> Any:
    role_id = _role_id(client, who, role)
    return client.post(
        "/api/v1/invitations", json={"email": email, "role_id": role_id}, headers=who["headers"]
    )


def _token_from(message: Any) -> str:
    match = re.search(r"/accept-invitation\?token=(\S+)", message.body)
    assert match, message.body
    return unquote(match.group(1))


def _invite_and_get_token(
    app: Litestar, client: TestClient[Any], who: dict[str, Any], email: str, role: str = "sales_rep"
) -> str:
    response = _invite(client, who, email, role)
    assert response.status_code == 201, response.text
    return _token_from(sent_mail(client)[-1])


def _accept(client: TestClient[Any], token: str, password: str = NEW_PASSWORD, **extra: Any) -> Any:
    return client.post(
        "/api/v1/invitations/accept",
        json={"token": token, "full_name": "Invited Person", "password": password, **extra},
    )


def _member(app: Litestar, client: TestClient[Any], owner: dict[str, Any], role: str) -> dict[str, Any]:
    """A new person who joined ``owner``'s tenant with ``role``, signed in there."""
    email = unique_email(role)
    pair = _accept(client, _invite_and_get_token(app, client, owner, email, role)).json()
    return {**pair, "email": email, "headers": bearer(pair["access_token"])}


def _problem_without_request_id(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    body.pop("request_id", None)
    return body


def _in_tenant(settings: Settings, tenant_id: str | None, statement: Any) -> Any:
    """Run one ORM statement through a Database session inside the tenant's context."""

    async def run() -> Any:
        db = open_database(settings)
        try:
            with tenant_context(uuid.UUID(tenant_id) if tenant_id else None):
                async with db.transaction() as session:
                    result = await session.execute(statement)
                    return result.all() if isinstance(statement, Select) else None
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_an_invitee_gets_mail_accepts_signs_in_and_has_the_role(
    app: Litestar, client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "Acme")
    email = unique_email("rep")
    response = _invite(client, owner, email.upper(), "sales_rep")
    assert response.status_code == 201, response.text
    view = response.json()
    assert view["email"] == email
    assert set(view) == {"id", "email", "role_id", "invited_by", "expires_at", "created_at", "version"}

    [message] = sent_mail(client)
    assert message.to == email
    assert "Acme" in message.subject
    assert f"{settings.public_url}/accept-invitation?token=" in message.body
    token = _token_from(message)
    assert token.split(".")[0] == uuid.UUID(owner["tenant_id"]).hex
    assert token not in response.text
    assert token.split(".")[2] not in response.text

    accepted = _accept(client, token)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["tenant_id"] == owner["tenant_id"]
    me = client.get("/api/v1/me", headers=bearer(accepted.json()["access_token"])).json()
    assert me["email"] == email
    assert me["full_name"] == "Invited Person"
    assert me["roles"] == ["sales_rep"]

    signed_in = login(client, email, NEW_PASSWORD)
    assert signed_in.status_code == 201, signed_in.text
    assert signed_in.json()["tenant_id"] == owner["tenant_id"]
    me = client.get("/api/v1/me", headers=bearer(signed_in.json()["access_token"])).json()
    assert me["roles"] == ["sales_rep"]


def test_only_a_digest_of_the_secret_is_stored(
    app: Litestar, client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    token = _invite_and_get_token(app, client, owner, unique_email())
    secret = token.split(".")[2]
    [(row,)] = _in_tenant(settings, owner["tenant_id"], select(Invitation))
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(vars(row))


def test_the_invitation_expires_after_the_configured_time(
    app: Litestar, client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    before = utcnow()
    view = _invite(client, owner, unique_email()).json()
    expires_at = datetime.fromisoformat(view["expires_at"])
    expected = before + timedelta(seconds=settings.invitation_ttl_seconds)
    assert abs((expires_at - expected).total_seconds()) < 60


def test_an_expired_invitation_is_refused(app: Litestar, client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    token = _invite_and_get_token(app, client, owner, unique_email())
    invitation_id = uuid.UUID(hex=token.split(".")[1])
    _in_tenant(
        settings,
        owner["tenant_id"],
        update(Invitation)
        .where(Invitation.id == invitation_id)
        .values(expires_at=utcnow() - timedelta(seconds=1)),
    )
    response = _accept(client, token)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_invitation"
    assert response.json()["errors"][0]["field"] == "token"
    listed = client.get("/api/v1/invitations", headers=owner["headers"]).json()["items"]
    assert listed == []


def test_an_invitation_works_only_once(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    token = _invite_and_get_token(app, client, owner, unique_email())
    assert _accept(client, token).status_code == 201
    again = _accept(client, token)
    assert again.status_code == 422
    assert again.json()["code"] == "invalid_invitation"


def test_a_revoked_invitation_is_refused_and_leaves_the_list(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    token = _invite_and_get_token(app, client, owner, unique_email())
    invitation_id = str(uuid.UUID(hex=token.split(".")[1]))
    listed = client.get("/api/v1/invitations", headers=owner["headers"]).json()["items"]
    assert [i["id"] for i in listed] == [invitation_id]

    revoked = client.delete(f"/api/v1/invitations/{invitation_id}", headers=owner["headers"])
    assert revoked.status_code == 204
    assert client.get("/api/v1/invitations", headers=owner["headers"]).json()["items"] == []
    response = _accept(client, token)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_invitation"


def test_an_accepted_invitation_cannot_be_revoked(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    token = _invite_and_get_token(app, client, owner, unique_email())
    assert _accept(client, token).status_code == 201
    invitation_id = str(uuid.UUID(hex=token.split(".")[1]))
    response = client.delete(f"/api/v1/invitations/{invitation_id}", headers=owner["headers"])
    assert response.status_code == 409
    assert response.json()["code"] == "invitation_accepted"


def test_every_refused_token_gets_the_same_problem(
    app: Litestar, client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "A")
    other = signup(client, "B")
    token = _invite_and_get_token(app, client, owner, unique_email())
    tenant_hex, invitation_hex, secret = token.split(".")
    used = _invite_and_get_token(app, client, owner, unique_email())
    assert _accept(client, used).status_code == 201
    forged = [
        f"{tenant_hex}.{invitation_hex}.{secret[:-4]}AAAA",  # wrong secret
        f"{uuid.UUID(other['tenant_id']).hex}.{invitation_hex}.{secret}",  # another tenant
        f"{uuid.uuid4().hex}.{invitation_hex}.{secret}",  # no such tenant
        f"{tenant_hex}.{uuid.uuid4().hex}.{secret}",  # no such invitation
        used,  # already accepted
    ]
    bodies = []
    for candidate in forged:
        response = _accept(client, candidate)
        assert response.status_code == 422, (candidate, response.text)
        bodies.append(_problem_without_request_id(response))
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["code"] == "invalid_invitation"
    assert bodies[0]["errors"][0]["field"] == "token"
    # The genuine token still works after all that.
    assert _accept(client, token).status_code == 201


def test_a_malformed_token_names_the_token_field(client: TestClient[Any]) -> None:
    for token in ["", "nonsense", "a.b.c", f"{uuid.uuid4()}.{uuid.uuid4()}.secretsecretsecret"]:
        response = _accept(client, token)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_invitation"
        assert response.json()["errors"][0]["field"] == "token"


def test_a_viewer_may_not_invite_list_or_revoke(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    viewer = _member(app, client, owner, "viewer")
    token = _invite_and_get_token(app, client, owner, unique_email())
    invitation_id = str(uuid.UUID(hex=token.split(".")[1]))
    role_id = _role_id(client, owner, "sales_rep")
    attempts = [
        client.post(
            "/api/v1/invitations",
            json={"email": unique_email(), "role_id": role_id},
            headers=viewer["headers"],
        ),
        client.get("/api/v1/invitations", headers=viewer["headers"]),
        client.delete(f"/api/v1/invitations/{invitation_id}", headers=viewer["headers"]),
    ]
    for response in attempts:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "permission_denied"
    assert _accept(client, token).status_code == 201


def test_inviting_needs_a_signed_in_member(client: TestClient[Any]) -> None:
    response = client.post(
        "/api/v1/invitations", json={"email": unique_email(), "role_id": str(uuid.uuid4())}
    )
    assert response.status_code == 401


def test_an_admin_cannot_invite_someone_as_owner(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    admin = _member(app, client, owner, "admin")
    mails = len(sent_mail(client))
    response = _invite(client, admin, unique_email(), "owner")
    assert response.status_code == 403
    assert response.json()["code"] == "owner_only"
    assert response.json()["errors"][0]["field"] == "role_id"
    assert len(sent_mail(client)) == mails
    assert client.get("/api/v1/invitations", headers=owner["headers"]).json()["items"] == []
    # An admin may invite with the roles they could hand out themselves.
    assert _invite(client, admin, unique_email(), "sales_rep").status_code == 201


def test_an_owner_can_invite_a_co_owner(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    co_owner = _member(app, client, owner, "owner")
    me = client.get("/api/v1/me", headers=co_owner["headers"]).json()
    assert me["roles"] == ["owner"]


def test_nobody_invites_with_a_role_granting_more_than_they_hold(
    app: Litestar, client: TestClient[Any]
) -> None:
    owner = signup(client)
    role = client.post(
        "/api/v1/roles",
        json={"name": "Ownership", "grants": {"members.invite": "all", "tenant.transfer_ownership": "all"}},
        headers=owner["headers"],
    ).json()
    admin = _member(app, client, owner, "admin")
    response = client.post(
        "/api/v1/invitations", json={"email": unique_email(), "role_id": role["id"]}, headers=admin["headers"]
    )
    assert response.status_code == 403
    assert response.json()["code"] == "grant_exceeds_own"


def test_an_unknown_role_or_another_tenants_role_is_refused_alike(client: TestClient[Any]) -> None:
    owner = signup(client, "A")
    other = signup(client, "B")
    bodies = []
    for role_id in [str(uuid.uuid4()), _role_id(client, other, "viewer")]:
        response = client.post(
            "/api/v1/invitations",
            json={"email": unique_email(), "role_id": role_id},
            headers=owner["headers"],
        )
        assert response.status_code == 422
        bodies.append(_problem_without_request_id(response))
    assert bodies[0] == bodies[1]
    assert bodies[0]["code"] == "unknown_role"
    assert bodies[0]["errors"][0]["field"] == "role_id"


def test_an_invalid_email_is_refused(client: TestClient[Any]) -> None:
    owner = signup(client)
    response = _invite(client, owner, "not an email")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_email"
    assert response.json()["errors"][0]["field"] == "email"


def test_inviting_an_active_member_is_a_conflict(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    rep = _member(app, client, owner, "sales_rep")
    for email in (owner["email"], rep["email"].upper()):
        response = _invite(client, owner, email)
        assert response.status_code == 409
        assert response.json()["code"] == "already_member"


def test_a_second_pending_invitation_for_the_same_email_is_a_conflict(
    app: Litestar, client: TestClient[Any]
) -> None:
    owner = signup(client)
    email = unique_email()
    token = _invite_and_get_token(app, client, owner, email)
    response = _invite(client, owner, email, "viewer")
    assert response.status_code == 409
    assert response.json()["code"] == "already_invited"
    assert len(sent_mail(client)) == 1
    # Once revoked, the person can be invited again.
    invitation_id = str(uuid.UUID(hex=token.split(".")[1]))
    client.delete(f"/api/v1/invitations/{invitation_id}", headers=owner["headers"])
    assert _invite(client, owner, email, "viewer").status_code == 201


def test_the_same_email_can_be_invited_by_two_tenants(app: Litestar, client: TestClient[Any]) -> None:
    a = signup(client, "A")
    b = signup(client, "B")
    email = unique_email()
    token_a = _invite_and_get_token(app, client, a, email)
    token_b = _invite_and_get_token(app, client, b, email, "viewer")
    assert _accept(client, token_a).status_code == 201
    joined = _accept(client, token_b, NEW_PASSWORD)
    assert joined.status_code == 201
    assert joined.json()["tenant_id"] == b["tenant_id"]


def test_an_existing_account_must_give_its_own_password(
    app: Litestar, client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "A")
    elsewhere = signup(client, "B")  # the invitee already has an account, in tenant B
    token = _invite_and_get_token(app, client, owner, elsewhere["email"])

    wrong = _accept(client, token, "attacker chosen password")
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_credentials"
    assert wrong.json()["errors"][0]["field"] == "password"
    # The account keeps its password and name, and the invitation is still pending.
    assert login(client, elsewhere["email"], "attacker chosen password").status_code == 401
    assert login(client, elsewhere["email"], PASSWORD, tenant=elsewhere["tenant_id"]).status_code == 201

    right = _accept(client, token, PASSWORD)
    assert right.status_code == 201, right.text
    assert right.json()["tenant_id"] == owner["tenant_id"]
    me = client.get("/api/v1/me", headers=bearer(right.json()["access_token"])).json()
    assert me["full_name"] == "Owner"
    assert {t["id"] for t in me["tenants"]} == {owner["tenant_id"], elsewhere["tenant_id"]}


def test_wrong_passwords_on_accept_are_throttled_like_sign_ins(settings: Settings) -> None:
    strict = dataclasses.replace(settings, login_free_attempts=1)
    app = create_app(strict)
    with TestClient(app) as client:
        owner = signup(client, "A")
        elsewhere = signup(client, "B")
        token = _invite_and_get_token(app, client, owner, elsewhere["email"])
        statuses = []
        for attempt in range(8):  # delays double (1, 2, 4 s...), so one soon outlasts an attempt
            response = _accept(client, token, f"wrong password {attempt}")
            statuses.append(response.status_code)
            if response.status_code != 401:
                break
    assert statuses[0] == 401
    assert statuses[-1] == 429
    assert response.json()["code"] == "login_throttled"


def test_an_account_with_two_factor_needs_its_code(
    app: Litestar, client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client, "A")
    elsewhere = signup(client, "B")
    secret = pyotp.random_base32()
    _in_tenant(
        settings,
        None,
        update(User).where(User.email == elsewhere["email"]).values(totp_secret=secret, totp_enabled=True),
    )
    token = _invite_and_get_token(app, client, owner, elsewhere["email"])
    missing = _accept(client, token, PASSWORD)
    assert missing.status_code == 401
    assert missing.json()["code"] == "otp_required"
    wrong = _accept(
        client, token, PASSWORD, otp="000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_credentials"
    right = _accept(client, token, PASSWORD, otp=pyotp.TOTP(secret).now())
    assert right.status_code == 201, right.text


def test_a_new_account_must_meet_the_password_policy(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    token = _invite_and_get_token(app, client, owner, unique_email())
    weak = _accept(client, token, "short")
    assert weak.status_code == 422
    assert weak.json()["code"] == "password_too_short"
    assert weak.json()["errors"][0]["field"] == "password"
    nameless = client.post("/api/v1/invitations/accept", json={"token": token, "password": NEW_PASSWORD})
    assert nameless.status_code == 422
    assert nameless.json()["errors"][0]["field"] == "full_name"
    assert _accept(client, token).status_code == 201


def test_accepting_is_refused_while_the_business_is_suspended(
    app: Litestar, client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    token = _invite_and_get_token(app, client, owner, unique_email())
    tenant_id = uuid.UUID(owner["tenant_id"])
    _in_tenant(
        settings, str(tenant_id), update(Tenant).where(Tenant.id == tenant_id).values(status="suspended")
    )
    response = _accept(client, token)
    assert response.status_code == 423
    assert response.json()["code"] == "tenant_suspended"


def test_pending_invitations_are_listed_a_page_at_a_time(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client, "A")
    other = signup(client, "B")
    emails = [unique_email(f"p{i}") for i in range(3)]
    tokens = [_invite_and_get_token(app, client, owner, email) for email in emails]
    _invite_and_get_token(app, client, other, unique_email())  # another tenant's: never listed
    assert _accept(client, tokens[0]).status_code == 201

    first = client.get("/api/v1/invitations?limit=1", headers=owner["headers"]).json()
    assert [i["email"] for i in first["items"]] == [emails[1]]
    assert first["next_cursor"]
    second = client.get(
        f"/api/v1/invitations?limit=1&cursor={first['next_cursor']}", headers=owner["headers"]
    ).json()
    assert [i["email"] for i in second["items"]] == [emails[2]]
    assert second["next_cursor"] is None


def test_another_tenants_invitation_id_is_a_404_like_a_missing_one(
    app: Litestar, client: TestClient[Any]
) -> None:
    owner = signup(client, "A")
    other = signup(client, "B")
    token = _invite_and_get_token(app, client, other, unique_email())
    theirs = str(uuid.UUID(hex=token.split(".")[1]))
    foreign = client.delete(f"/api/v1/invitations/{theirs}", headers=owner["headers"])
    missing = client.delete(f"/api/v1/invitations/{uuid.uuid4()}", headers=owner["headers"])
    assert foreign.status_code == missing.status_code == 404
    assert _problem_without_request_id(foreign) == _problem_without_request_id(missing)
    # And their invitation was left alone.
    assert _accept(client, token).status_code == 201


def test_an_api_key_may_list_invitations_but_not_send_them(app: Litestar, client: TestClient[Any]) -> None:
    owner = signup(client)
    created = client.post(
        "/api/v1/api-keys",
        json={"name": "HR sync", "grants": {"members.invite": "all", "roles.read": "all"}},
        headers=owner["headers"],
    )
    assert created.status_code == 201, created.text
    key = bearer(created.json()["key"])
    response = _invite(client, {"headers": key}, unique_email())
    assert response.status_code == 403
    assert response.json()["code"] == "not_a_person"
    assert sent_mail(client) == []
    assert client.get("/api/v1/invitations", headers=key).status_code == 200


def test_two_concurrent_accepts_of_one_invitation_let_exactly_one_in(
    app: Litestar, client: TestClient[Any], settings: Settings
) -> None:
    """Two browsers submit the same link at once: the conditional UPDATE lets one claim it,
    and nothing of the other remains."""
    owner = signup(client)
    email = unique_email()
    token = _invite_and_get_token(app, client, owner, email)
    body = {"token": token, "full_name": "Invited Person", "password": NEW_PASSWORD}

    async def race() -> list[int]:
        async with AsyncTestClient(create_app(settings)) as racer:
            responses = await asyncio.gather(
                *(racer.post("/api/v1/invitations/accept", json=body) for _ in range(2))
            )
        return sorted(r.status_code for r in responses)

    statuses = asyncio.run(race())
    assert statuses[0] == 201
    assert statuses[1] in (409, 422)
    assert login(client, email, NEW_PASSWORD).status_code == 201
    members = client.get("/api/v1/members?limit=200", headers=owner["headers"]).json()["items"]
    assert [m["email"] for m in members].count(email) == 1
