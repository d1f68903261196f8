"""Mail goes out as a job through the outbox, sealed: the link it carries is a secret whose
only database copy is otherwise a hash."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from core.events.models import OutboxMessage
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.mail import Message
from core.mail.jobs import open_sealed, seal
from frontend_api.app import create_app
from tests.helpers import sent_mail, signup, unique_email


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, background_jobs=True)


def _payloads(settings: Settings) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                rows = (await session.execute(select(OutboxMessage.name, OutboxMessage.payload))).all()
                return [(name, json.dumps(payload)) for name, payload in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_an_invitation_mail_waits_in_the_outbox_sealed(client: TestClient[Any], settings: Settings) -> None:
    owner = signup(client)
    invitee = unique_email("invitee")
    roles = client.get("/api/v1/roles?limit=200", headers=owner["headers"]).json()["items"]
    role_id = next(r["id"] for r in roles if r["name"] == "viewer")
    response = client.post(
        "/api/v1/invitations", json={"email": invitee, "role_id": role_id}, headers=owner["headers"]
    )
    assert response.status_code == 201, response.text

    [message] = sent_mail(client)
    token = message.body.split("token=")[1].split()[0]
    mail_jobs = [payload for name, payload in _payloads(settings) if name == "mail.send"]
    assert len(mail_jobs) == 1
    assert token not in mail_jobs[0]
    assert invitee not in mail_jobs[0]
    assert "accept-invitation" not in mail_jobs[0]


def test_a_sealed_mail_opens_only_with_the_same_secret(settings: Settings) -> None:
    message = Message(to="a@example.com", subject="S", body="secret link", html="<p>x</p>", language="en")
    sealed = seal(settings, message)
    assert open_sealed(settings, sealed) == message
    other = dataclasses.replace(settings, secret_key="another-installation-secret-key-0123456789")
    with pytest.raises(ValueError, match="does not open"):
        open_sealed(other, sealed)


def test_nothing_is_mailed_when_the_invitation_is_refused(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        owner = signup(client)
        roles = client.get("/api/v1/roles?limit=200", headers=owner["headers"]).json()["items"]
        role_id = next(r["id"] for r in roles if r["name"] == "viewer")
        # The owner is already a member: refused after validation, inside the transaction.
        response = client.post(
            "/api/v1/invitations",
            json={"email": owner["email"], "role_id": role_id},
            headers=owner["headers"],
        )
        assert response.status_code == 409
        assert sent_mail(client) == []
    assert [name for name, _ in _payloads(settings) if name == "mail.send"] == []


def test_business_mail_carries_its_tenant_and_account_mail_none(
    client: TestClient[Any], settings: Settings
) -> None:
    owner = signup(client)
    roles = client.get("/api/v1/roles?limit=200", headers=owner["headers"]).json()["items"]
    role_id = next(r["id"] for r in roles if r["name"] == "viewer")
    invited = client.post(
        "/api/v1/invitations", json={"email": unique_email(), "role_id": role_id}, headers=owner["headers"]
    )
    assert invited.status_code == 201, invited.text
    assert client.post("/api/v1/auth/password-reset", json={"email": owner["email"]}).status_code == 202
    assert len(sent_mail(client)) == 2

    async def read() -> dict[str, str | None]:
        db = Database(settings.database_url)
        try:
            async with db.transaction() as session:
                rows = await session.execute(select(OutboxMessage.name, OutboxMessage.tenant_ref))
                return {
                    name: None if ref is None else str(ref) for name, ref in rows if name.startswith("mail.")
                }
        finally:
            await db.dispose()

    assert asyncio.run(read()) == {"mail.send": owner["tenant_id"], "mail.send_account": None}
