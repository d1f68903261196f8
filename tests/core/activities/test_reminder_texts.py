"""Task reminders by text message: an assignee who gave a work mobile, in a business whose SMS
provider (the ``sms`` plugin, against a local gateway speaking Aliyun's ``SendSms``) has a
template for ``activity.reminder``, gets the reminder as an SMS as well as by mail; everyone
else gets the mail only. A failing gateway neither loses the mail nor sends it twice."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from core.activities.reminders import send_due_reminders
from core.events.service import record_job
from core.jobs.runtime import JobRuntime
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.mail import Message
from frontend_api.app import create_app
from frontend_api.services import Services
from tests.core.activities.test_reminders import _at, _task
from tests.frontend_api.test_customers import _raw
from tests.helpers import add_member, signup
from tests.http_server import HTTPServer, running
from tests.plugins import test_sms

DUE = "2030-01-02T01:30:00+00:00"  # 09:30 in Shanghai, 02:30 in Berlin
SUBJECT = "Send the revised quote to Globex before the fair"


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    # The gateway listens on 127.0.0.1; a failing text is retried once, quickly.
    return dataclasses.replace(
        settings,
        webhook_allow_private_urls=True,
        job_max_retries=1,
        job_min_backoff_ms=1,
        job_max_backoff_ms=5,
    )


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(app_settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def gateway() -> test_sms.Gateway:
    return test_sms.Gateway()


@pytest.fixture
def server(gateway: test_sms.Gateway) -> Iterator[HTTPServer]:
    with running(gateway) as http:
        yield http


def _enable_sms(
    client: TestClient[Any], who: dict[str, Any], server: HTTPServer, template: str = "SMS_465002"
) -> None:
    config = {
        "access_key_id": test_sms.KEY_ID,
        "access_key_secret": test_sms.KEY_SECRET,
        "sign_name": test_sms.SIGN_NAME,
        "templates": {"activity.reminder": template},
        "endpoint": server.url(""),
    }
    enabled = client.post(
        "/api/v1/tenant/plugins/sms/enable", headers=who["headers"], json={"config": config}
    )
    assert enabled.status_code == 200, enabled.text


def _set_phone(client: TestClient[Any], who: dict[str, Any], phone: str) -> None:
    response = client.patch("/api/v1/me", headers=who["headers"], json={"phone": phone})
    assert response.status_code == 200, response.text


def _customer(client: TestClient[Any], who: dict[str, Any]) -> str:
    response = client.post(
        "/api/v1/customers",
        headers=who["headers"],
        json={"kind": "company", "name": f"Globex {uuid.uuid4().hex[:6]}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _user_id(client: TestClient[Any], who: dict[str, Any]) -> str:
    return str(client.get("/api/v1/me", headers=who["headers"]).json()["user_id"])


def _due_task(client: TestClient[Any], who: dict[str, Any], assignee: dict[str, Any], **fields: Any) -> None:
    fields = {"subject": SUBJECT, "due_at": DUE, **fields}
    _task(
        client,
        who["headers"],
        _customer(client, who),
        assignee_id=_user_id(client, assignee),
        remind_at=_at(-1),
        **fields,
    )


def _run_reminders(client: TestClient[Any], settings: Settings) -> None:
    """One run of the periodic reminder job, on a worker with the app's mailer and texter."""
    services: Services = client.app.state.services

    async def run() -> None:
        runtime = JobRuntime(
            settings, services.db, services.jobs, services.job_mailer(), texter=services.job_texter()
        )
        await runtime.start(worker=True, relay=False, scheduler=False)
        try:
            async with services.db.transaction() as session:
                record_job(session, "activities.send_reminders", {}, None)
            await runtime.drain()
        finally:
            await runtime.stop()

    client.blocking_portal.call(run)


def _mail(client: TestClient[Any]) -> list[Message]:
    outbox: list[Message] = client.app.state.services.mailer.outbox
    return outbox


def _texts(gateway: test_sms.Gateway) -> list[tuple[str, str, dict[str, str]]]:
    return [
        (sent["PhoneNumbers"], sent["TemplateCode"], msgspec.json.decode(sent["TemplateParam"]))
        for sent in gateway.sent
    ]


def _execute(settings: Settings, sql: str) -> None:
    """A change made around the API (the migration owner), such as a person's language."""

    async def run() -> None:
        engine = create_async_engine(settings.owner_database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_a_due_reminder_is_texted_through_the_businesss_sms_provider_and_mailed_too(
    client: TestClient[Any], app_settings: Settings, gateway: test_sms.Gateway, server: HTTPServer
) -> None:
    acme = signup(client, "Acme")
    rep = add_member(client, app_settings, acme["tenant_id"], "sales_rep")
    _set_phone(client, rep, "138 0013 8000")
    _enable_sms(client, acme, server)
    other = signup(client, "Other Co")  # no SMS provider
    _set_phone(client, other, "13900139000")
    _due_task(client, acme, rep)
    _due_task(client, acme, acme, subject="Call back")  # the owner gave no phone
    _due_task(client, other, other, subject="Check stock")

    _run_reminders(client, app_settings)

    assert _texts(gateway) == [
        ("13800138000", "SMS_465002", {"subject": "Send the revised qu…", "time": "1月2日 09:30"})
    ]
    assert gateway.sent[0]["SignName"] == test_sms.SIGN_NAME
    mailed = {m.to: m for m in _mail(client)}
    assert set(mailed) == {rep["email"], acme["email"], other["email"]}
    assert "2030-01-02 09:30（Asia/Shanghai）" in mailed[rep["email"]].body
    assert _raw(app_settings, "SELECT actor FROM dead_letters") == []  # nobody's text is a failure

    _run_reminders(client, app_settings)
    assert len(gateway.sent) == 1
    assert len(_mail(client)) == 3


def test_the_text_shows_the_businesss_time_zone_in_the_assignees_language(
    client: TestClient[Any], app_settings: Settings, gateway: test_sms.Gateway, server: HTTPServer
) -> None:
    acme = signup(client, "Acme")
    moved = client.patch("/api/v1/tenant", headers=acme["headers"], json={"timezone": "Europe/Berlin"})
    assert moved.status_code == 200, moved.text
    _set_phone(client, acme, "+852 5123 4567")
    _execute(app_settings, f"UPDATE users SET locale = 'en' WHERE email = '{acme['email']}'")
    _enable_sms(client, acme, server)
    _due_task(client, acme, acme, subject="Call  Globex")

    _run_reminders(client, app_settings)

    assert _texts(gateway) == []  # the gateway refuses a number outside the mainland...
    [letter] = _raw(app_settings, "SELECT actor, error FROM dead_letters")
    assert letter[0] == "job:sms.send"
    assert "isv.MOBILE_NUMBER_ILLEGAL" in letter[1]  # ...sent as Aliyun wants it: 85251234567
    [mail] = _mail(client)
    assert mail.language == "en"
    assert "2030-01-02 02:30 (Europe/Berlin)" in mail.body

    _set_phone(client, acme, "13800138000")
    _due_task(client, acme, acme, subject="Call  Globex")
    _run_reminders(client, app_settings)
    assert _texts(gateway) == [
        ("13800138000", "SMS_465002", {"subject": "Call Globex", "time": "Jan 2 02:30"})
    ]


def test_a_failing_sms_gateway_neither_loses_the_reminder_mail_nor_sends_it_twice(
    client: TestClient[Any], app_settings: Settings, gateway: test_sms.Gateway, server: HTTPServer
) -> None:
    acme = signup(client, "Acme")
    _set_phone(client, acme, "13800138000")
    _enable_sms(client, acme, server, template="SMS_465009")  # not one of the account's
    _due_task(client, acme, acme)

    _run_reminders(client, app_settings)
    _run_reminders(client, app_settings)

    assert gateway.sent == []
    assert [m.to for m in _mail(client)] == [acme["email"]]
    letters = _raw(app_settings, "SELECT actor, error FROM dead_letters")
    assert [actor for actor, _ in letters] == ["job:sms.send"]
    assert "isv.SMS_TEMPLATE_ILLEGAL" in letters[0][1]


@pytest.mark.anyio
async def test_the_text_waits_in_the_outbox_sealed_with_the_reminder_claimed(
    client: TestClient[Any], app_settings: Settings, db: Database
) -> None:
    acme = signup(client, "Acme")
    _set_phone(client, acme, "13800138000")
    _due_task(client, acme, acme)

    with tenant_context(uuid.UUID(acme["tenant_id"])):
        async with db.transaction() as session:
            assert await send_due_reminders(session, app_settings) == 1
        async with db.transaction() as session:
            assert await send_due_reminders(session, app_settings) == 0

    rows = await asyncio.to_thread(_raw, app_settings, "SELECT name, payload FROM outbox_messages")
    texts = [json.dumps(payload) for name, payload in rows if name == "sms.send"]
    assert len(texts) == 1
    assert "13800138000" not in texts[0]
    assert SUBJECT not in texts[0]
    assert len([name for name, _ in rows if name == "mail.send"]) == 1
