"""Task reminders: the periodic job mails each due reminder once, to the assignee, in their
language, through the mail job; on the in-process worker and on the real Redis broker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, update

from core.activities.models import Activity
from core.activities.reminders import send_due_reminders
from core.crypto.keyring import open_database
from core.events.service import record_job
from core.jobs.runtime import JobRuntime
from core.kernel.database import Database
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.mail import MemoryMailer
from core.security.models import User
from frontend_api.services import job_registry
from tests.core.jobs import conftest as job_fixtures
from tests.helpers import add_member, signup

pytestmark = pytest.mark.anyio

#: Each test that takes it runs on the in-process worker and on the real Redis broker.
job_settings = job_fixtures.job_settings

API = "/api/v1/activities"


def _at(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def _task(
    client: TestClient[Any], headers: dict[str, str], customer_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "kind": "task",
        "subject_type": "customer",
        "subject_id": customer_id,
        "subject": "Send the quote",
    }
    response = client.post(API, headers=headers, json={**body, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
def tasks(client: TestClient[Any], settings: Settings) -> dict[str, Any]:
    """In one business: a due reminder for a rep (who reads English), one not yet due, and one
    of a task already done; in another business, one due reminder for its owner."""
    owner = signup(client, "Acme")
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    rep_id = uuid.UUID(client.get("/api/v1/me", headers=rep["headers"]).json()["user_id"])
    customer = client.post(
        "/api/v1/customers", headers=owner["headers"], json={"kind": "company", "name": "Globex"}
    ).json()
    due = _task(
        client, owner["headers"], customer["id"], assignee_id=str(rep_id), due_at=_at(30), remind_at=_at(-1)
    )
    _task(client, owner["headers"], customer["id"], remind_at=_at(60))
    done = _task(client, owner["headers"], customer["id"], remind_at=_at(-5))
    client.post(f"{API}/{done['id']}/complete", headers=owner["headers"])
    other = signup(client, "Other Co")
    other_customer = client.post(
        "/api/v1/customers", headers=other["headers"], json={"kind": "company", "name": "Initech"}
    ).json()
    _task(client, other["headers"], other_customer["id"], subject="Call back", remind_at=_at(-2))
    return {"rep": rep, "rep_id": rep_id, "due": due, "owner": owner, "other": other}


async def _run_reminders(settings: Settings, db: Database, mailer: MemoryMailer) -> None:
    runtime = JobRuntime(settings, db, job_registry(), mailer)
    await runtime.start(worker=True, relay=False, scheduler=False)
    try:
        async with db.transaction() as session:
            record_job(session, "activities.send_reminders", {}, None)
        await runtime.drain()
    finally:
        await runtime.stop()


def test_reminders_run_every_minute() -> None:
    periodic = job_registry().periodic["activities.send_reminders"]
    assert periodic.every == timedelta(minutes=1)


async def test_a_due_reminder_is_mailed_once_to_the_assignee_in_their_language(
    tasks: dict[str, Any],
    job_settings: Settings,
    db: Database,
    rls_free_db: Database,
) -> None:
    async with rls_free_db.transaction() as session:
        await session.execute(update(User).where(User.id == tasks["rep_id"]).values(locale="en"))
    mailer = MemoryMailer()

    await _run_reminders(job_settings, db, mailer)

    by_recipient = {m.to: m for m in mailer.outbox}
    assert set(by_recipient) == {tasks["rep"]["email"], tasks["other"]["email"]}
    mail = by_recipient[tasks["rep"]["email"]]
    assert mail.language == "en"
    assert mail.subject == "Reminder: Send the quote"
    assert f"/activities/{tasks['due']['id']}" in mail.body
    chinese = by_recipient[tasks["other"]["email"]]
    assert chinese.language == "zh-CN"
    assert chinese.subject == "任务提醒：Call back"

    await _run_reminders(job_settings, db, mailer)
    assert len(mailer.outbox) == 2
    async with rls_free_db.transaction() as session:
        reminded = (
            await session.scalars(
                select(Activity.id)
                .where(Activity.reminded_at.is_not(None))
                .execution_options(all_tenants=True)
            )
        ).all()
    assert len(reminded) == 2


async def test_a_reminder_claimed_by_another_run_is_not_sent_again(
    tasks: dict[str, Any], settings: Settings, db: Database
) -> None:
    tenant_id = tasks["owner"]["tenant_id"]
    with tenant_context(uuid.UUID(tenant_id)):
        async with db.transaction() as session:
            assert await send_due_reminders(session, settings) == 1
        async with db.transaction() as session:
            assert await send_due_reminders(session, settings) == 0


async def test_two_runs_racing_send_each_reminder_once(
    tasks: dict[str, Any], settings: Settings, db: Database
) -> None:
    other_db = open_database(settings)

    async def run(database: Database) -> int:
        with tenant_context(uuid.UUID(tasks["owner"]["tenant_id"])):
            async with database.transaction() as session:
                return await send_due_reminders(session, settings)

    try:
        sent = await asyncio.gather(run(db), run(other_db))
    finally:
        await other_db.dispose()
    assert sorted(sent) == [0, 1]
