"""Email over SMTP: invitations and password resets reach a real SMTP server (aiosmtpd), in
the recipient's language, with a plain-text and an HTML part."""

from __future__ import annotations

import dataclasses
import email
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from litestar import Litestar
from litestar.testing import TestClient

from core.kernel.settings import Settings
from core.mail import Message, SmtpMailer, render_message
from frontend_api.app import create_app
from tests.helpers import PASSWORD, signup, unique_email


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_app(settings: Settings, inbox: tuple[Inbox, int]) -> Litestar:
    smtp_settings = dataclasses.replace(
        settings,
        background_jobs=True,
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=inbox[1],
        smtp_security="none",
    )
    return create_app(smtp_settings)


def _parts(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    return plain.get_content(), html.get_content()


def _role_id(client: TestClient[Any], headers: dict[str, str], name: str) -> str:
    roles = client.get("/api/v1/roles?limit=200", headers=headers).json()["items"]
    return next(r["id"] for r in roles if r["name"] == name)


def test_invitation_reaches_the_smtp_server_in_the_inviters_language(
    smtp_app: Litestar, inbox: tuple[Inbox, int]
) -> None:
    received, _ = inbox
    invitee = unique_email("invitee")
    with TestClient(smtp_app) as client:
        owner = signup(client, company="星辰贸易")  # signs up with the default locale, zh-CN
        response = client.post(
            "/api/v1/invitations",
            json={"email": invitee, "role_id": _role_id(client, owner["headers"], "sales_rep")},
            headers=owner["headers"],
        )
        assert response.status_code == 201, response.text
        client.blocking_portal.call(smtp_app.state.jobs.drain)

    [message] = received.messages
    assert message["To"] == invitee
    assert message["Subject"] == "Owner 邀请您加入慧客上的「星辰贸易」"
    assert message["Content-Language"] == "zh-CN"
    assert received.envelopes[0].rcpt_tos == [invitee]
    plain, html = _parts(message)
    assert "接受邀请" in plain or "邀请您" in plain
    assert "/accept-invitation?token=" in plain
    assert 'href="http://127.0.0.1:8000/accept-invitation?token=' in html


def test_password_reset_arrives_in_the_accounts_language(
    smtp_app: Litestar, inbox: tuple[Inbox, int]
) -> None:
    received, _ = inbox
    with TestClient(smtp_app) as client:
        email_address = unique_email("english")
        response = client.post(
            "/api/v1/signup",
            json={
                "company_name": "Acme",
                "owner_name": "Alice",
                "email": email_address,
                "password": PASSWORD,
                "locale": "en",
            },
        )
        assert response.status_code == 201, response.text
        assert client.post("/api/v1/auth/password-reset", json={"email": email_address}).status_code == 202
        client.blocking_portal.call(smtp_app.state.jobs.drain)

    [message] = received.messages
    assert message["Subject"] == "Reset your Huike password"
    assert message["Content-Language"] == "en"
    plain, html = _parts(message)
    assert plain.startswith("Hello Alice,")
    assert "/reset-password?token=" in plain
    assert "<p>Hello Alice,</p>" in html


def test_html_part_escapes_what_people_typed() -> None:
    message = render_message(
        "invitation",
        "en",
        to="x@example.com",
        inviter_name="<script>alert(1)</script>",
        inviter_email="a@example.com",
        tenant_name="A & B",
        role_name="viewer",
        link="http://127.0.0.1:8000/accept-invitation?token=t",
        expires_at="2026-12-01 10:00",
    )
    assert message.html is not None
    assert "<script>" not in message.html
    assert "&lt;script&gt;" in message.html
    assert "A &amp; B" in message.html
    assert "<script>alert(1)</script>" in message.body  # plain text is not HTML


@pytest.mark.anyio
async def test_smtp_login_with_credentials() -> None:
    accounts = {"huike": "smtp secret"}

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and accounts.get(data.login.decode()) == data.password.decode()
        return AuthResult(success=ok, handled=False)

    handler = Inbox()
    port = _free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        mailer = SmtpMailer(
            sender="Huike <no-reply@huike.example>",
            host="127.0.0.1",
            port=port,
            security="none",
            username="huike",
            password="smtp secret",
        )
        await mailer.send(Message(to="someone@example.com", subject="Hi", body="plain only"))
        wrong = SmtpMailer(
            sender="Huike <no-reply@huike.example>",
            host="127.0.0.1",
            port=port,
            security="none",
            username="huike",
            password="wrong",
        )
        with pytest.raises(Exception, match="Authentication"):
            await wrong.send(Message(to="someone@example.com", subject="Hi", body="plain only"))
    finally:
        controller.stop()
    [message] = handler.messages
    assert message["From"] == "Huike <no-reply@huike.example>"
    assert message.get_content_type() == "text/plain"


@pytest.mark.parametrize(
    ("locale", "expected"), [("zh", "zh-CN"), ("zh_TW", "zh-CN"), ("fr", "en"), ("", "en")]
)
def test_unsupported_languages_fall_back(locale: str, expected: str) -> None:
    message = render_message(
        "password_reset", locale, to="x@example.com", full_name="X", link="http://l", minutes=60
    )
    assert message.language == expected
