"""The public pool's job and the use cases other domains call: which customers return (per
level, no deal, the notice first), the notice mailed once per customer and ownership even
when runs race, ``record_deal``, and claims racing on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, text, update

from core.audit.models import AuditEntry
from core.crypto.keyring import open_database
from core.customers import pool
from core.customers.access import mark_contacted
from core.customers.jobs import return_due_customers, send_pool_notices
from core.customers.models import Customer
from core.events.models import OutboxMessage
from core.events.service import record_job
from core.jobs.runtime import JobRuntime
from core.kernel.database import Database
from core.kernel.errors import Conflict
from core.kernel.settings import Settings
from core.kernel.tenancy import tenant_context
from core.mail import MemoryMailer
from core.security.models import User
from core.security.service import load_member_principal
from frontend_api.services import job_registry
from tests.helpers import add_member, signup

pytestmark = pytest.mark.anyio

API = "/api/v1/customers"
RULES = "/api/v1/customer-pool/rules"
NOW = datetime.now(UTC)


def _days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def _me(client: TestClient[Any], person: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(client.get("/api/v1/me", headers=person["headers"]).json()["user_id"])


@pytest.fixture
def business(client: TestClient[Any], settings: Settings) -> dict[str, Any]:
    owner = signup(client, "Acme")
    rep = add_member(client, settings, owner["tenant_id"], "sales_rep")
    other = add_member(client, settings, owner["tenant_id"], "sales_rep")
    return {
        "client": client,
        "owner": owner,
        "rep": rep,
        "other": other,
        "tenant_id": uuid.UUID(owner["tenant_id"]),
        "rep_id": _me(client, rep),
        "other_id": _me(client, other),
    }


def _rules(b: dict[str, Any], **rules: Any) -> None:
    response = b["client"].put(RULES, headers=b["owner"]["headers"], json={"enabled": True, **rules})
    assert response.status_code == 200, response.text


def _customer(b: dict[str, Any], name: str, person: str = "rep", **fields: Any) -> uuid.UUID:
    response = b["client"].post(
        API, headers=b[person]["headers"], json={"kind": "company", "name": name, **fields}
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def _age(db: Database, customer_id: uuid.UUID, **values: Any) -> None:
    """Move a customer's clock into the past (as if it had been owned for a while)."""
    async with db.transaction() as session:
        await session.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(**values)
            .execution_options(all_tenants=True, audited_by_caller=True)
        )


async def _rows(db: Database) -> dict[uuid.UUID, Customer]:
    async with db.transaction() as session:
        found = await session.scalars(select(Customer).execution_options(all_tenants=True))
        return {c.id: c for c in found.all()}


async def _in_tenant(db: Database, b: dict[str, Any], work: Any) -> Any:
    with tenant_context(b["tenant_id"]):
        async with db.transaction() as session:
            return await work(session)


async def test_customers_not_followed_up_for_their_levels_days_return_to_the_pool(
    business: dict[str, Any], db: Database, rls_free_db: Database
) -> None:
    b = business
    _rules(b, follow_up_days={"A": 30, "B": None}, default_follow_up_days=10)
    quiet_a = _customer(b, "Quiet A", level="A")
    busy_a = _customer(b, "Busy A", level="A")
    quiet_b = _customer(b, "Quiet B", level="B")
    quiet_none = _customer(b, "Quiet, no level")
    quiet_vip = _customer(b, "Quiet VIP", level="VIP")
    just_claimed = _customer(b, "Just claimed", level="A")
    for customer_id in (quiet_a, busy_a, quiet_b, quiet_none, quiet_vip):
        await _age(rls_free_db, customer_id, assigned_at=_days_ago(100), last_contacted_at=_days_ago(40))
    await _age(rls_free_db, busy_a, last_contacted_at=_days_ago(5))
    # Not followed up for long, but only just given to its owner: its clock starts now.
    await _age(rls_free_db, just_claimed, last_contacted_at=_days_ago(90))

    returned = await _in_tenant(db, b, return_due_customers)

    assert returned == 3
    rows = await _rows(rls_free_db)
    assert {c.id for c in rows.values() if c.owner_id is None} == {quiet_a, quiet_none, quiet_vip}
    back = rows[quiet_a]
    assert (back.pool_reason, back.pool_released_by, back.pool_previous_owner_id) == (
        "no_follow_up",
        None,
        b["rep_id"],
    )
    assert back.pool_entered_at is not None
    async with rls_free_db.transaction() as session:
        events = (
            await session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.name == "customers.returned_to_pool")
                .execution_options(all_tenants=True)
            )
        ).all()
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity_id == str(quiet_a), AuditEntry.action == "update")
                .order_by(AuditEntry.seq)
                .execution_options(all_tenants=True)
            )
        ).all()
    assert len(events) == 3
    assert {
        "customer_id": str(quiet_a),
        "from_owner_id": str(b["rep_id"]),
        "reason": "no_follow_up",
        "actor_id": None,
    } in [e if isinstance(e, dict) else __import__("json").loads(e) for e in events]
    assert entries[-1].actor_type == "system"
    assert entries[-1].changes["after"]["owner_id"] is None
    assert await _in_tenant(db, b, return_due_customers) == 0


async def test_a_disabled_pool_returns_nobody(
    business: dict[str, Any], db: Database, rls_free_db: Database
) -> None:
    b = business
    _rules(b, default_follow_up_days=10)
    b["client"].put(
        RULES, headers=b["owner"]["headers"], json={"enabled": False, "default_follow_up_days": 10}
    )
    quiet = _customer(b, "Quiet")
    await _age(rls_free_db, quiet, assigned_at=_days_ago(100))

    assert await _in_tenant(db, b, return_due_customers) == 0
    assert (await _rows(rls_free_db))[quiet].owner_id == b["rep_id"]


async def test_customers_without_a_deal_for_m_days_return_and_record_deal_keeps_them(
    business: dict[str, Any], db: Database, rls_free_db: Database
) -> None:
    b = business
    _rules(b, no_deal_days=90)
    dealless = _customer(b, "No deal", last_contacted_at=NOW.isoformat())
    dealt = _customer(b, "Deal last month")
    for customer_id in (dealless, dealt):
        await _age(rls_free_db, customer_id, assigned_at=_days_ago(200))

    async def won(session: Any) -> list[bool]:
        return [
            await pool.record_deal(session, dealt, _days_ago(30)),
            await pool.record_deal(session, dealt, _days_ago(60)),  # never moves back
            await pool.record_deal(session, uuid.uuid4(), _days_ago(1)),  # unknown: left alone
        ]

    assert await _in_tenant(db, b, won) == [True, False, False]
    rows = await _rows(rls_free_db)
    assert rows[dealt].last_deal_at is not None
    assert abs(rows[dealt].last_deal_at - _days_ago(30)) < timedelta(minutes=1)
    assert rows[dealt].version == 2

    assert await _in_tenant(db, b, return_due_customers) == 1
    rows = await _rows(rls_free_db)
    assert rows[dealless].pool_reason == "no_deal"
    assert rows[dealt].owner_id == b["rep_id"]


async def test_with_notice_days_owners_are_told_once_and_customers_return_after_the_notice(
    business: dict[str, Any], settings: Settings, db: Database, rls_free_db: Database
) -> None:
    b = business
    _rules(b, follow_up_days={"A": 30}, notice_days=3)
    soon = _customer(b, "Soon Ltd", level="A")
    overdue = _customer(b, "Overdue Ltd", level="A")
    later = _customer(b, "Later Ltd", level="A")
    others = _customer(b, "Other's Ltd", "other", level="A")
    await _age(rls_free_db, soon, assigned_at=_days_ago(28))
    await _age(rls_free_db, overdue, assigned_at=_days_ago(45))
    await _age(rls_free_db, later, assigned_at=_days_ago(20))
    await _age(rls_free_db, others, assigned_at=_days_ago(29))
    async with rls_free_db.transaction() as session:
        await session.execute(update(User).where(User.id == b["rep_id"]).values(locale="en"))
    mailer = MemoryMailer()

    await _run_pool_job(settings, db, mailer)

    by_recipient = {m.to: m for m in mailer.outbox}
    assert set(by_recipient) == {b["rep"]["email"], b["other"]["email"]}
    mail = by_recipient[b["rep"]["email"]]
    assert mail.language == "en"
    assert mail.subject.startswith("2 of your customers will return to the public pool on ")
    assert "Soon Ltd" in mail.body
    assert "Overdue Ltd" in mail.body
    assert "Later Ltd" not in mail.body
    assert f"/customers/{soon}" in mail.body
    assert "no follow-up for 30 days" in mail.body
    assert by_recipient[b["other"]["email"]].language == "zh-CN"
    assert "退回公海" in by_recipient[b["other"]["email"]].subject
    # Overdue, but its owner was only told now: it returns when the notice has run its course.
    rows = await _rows(rls_free_db)
    assert rows[overdue].owner_id == b["rep_id"]
    assert rows[overdue].pool_noticed_at is not None

    await _run_pool_job(settings, db, mailer)
    assert len(mailer.outbox) == 2

    await _age(rls_free_db, overdue, pool_noticed_at=_days_ago(3.1))
    await _age(rls_free_db, soon, pool_noticed_at=_days_ago(3.1))

    async def follow_up(session: Any) -> bool:
        return await mark_contacted(session, soon, datetime.now(UTC))

    assert await _in_tenant(db, b, follow_up)  # the owner called: the clock restarts
    await _run_pool_job(settings, db, mailer)
    rows = await _rows(rls_free_db)
    assert rows[overdue].owner_id is None
    assert rows[soon].owner_id == b["rep_id"]
    assert rows[soon].pool_noticed_at is None
    assert len(mailer.outbox) == 2


async def _run_pool_job(settings: Settings, db: Database, mailer: MemoryMailer) -> None:
    runtime = JobRuntime(settings, db, job_registry(), mailer)
    await runtime.start(worker=True, relay=False, scheduler=False)
    try:
        async with db.transaction() as session:
            record_job(session, "customers.run_pool", {}, None)
        await runtime.drain()
    finally:
        await runtime.stop()


async def test_two_notice_runs_racing_tell_each_owner_once(
    business: dict[str, Any], settings: Settings, db: Database, rls_free_db: Database
) -> None:
    b = business
    _rules(b, default_follow_up_days=30, notice_days=5)
    for name in ("One", "Two", "Three"):
        await _age(rls_free_db, _customer(b, name), assigned_at=_days_ago(27))
    other_db = open_database(settings)

    async def run(database: Database) -> int:
        with tenant_context(b["tenant_id"]):
            async with database.transaction() as session:
                return await send_pool_notices(session, settings)

    try:
        sent = await asyncio.gather(run(db), run(other_db))
    finally:
        await other_db.dispose()
    assert sorted(sent) == [0, 1]
    async with rls_free_db.transaction() as session:
        mails = (
            await session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.name == "mail.send")
                .execution_options(all_tenants=True)
            )
        ).all()
    assert len(mails) == 1


async def _principal(db: Database, b: dict[str, Any], user_id: uuid.UUID) -> Any:
    return await _in_tenant(db, b, lambda session: load_member_principal(session, user_id))


async def _claim(database: Database, b: dict[str, Any], principal: Any, customer_id: uuid.UUID) -> str:
    try:
        with tenant_context(b["tenant_id"]):
            async with database.transaction() as session:
                await pool.claim_customer(session, principal, customer_id)
    except Conflict as exc:
        return exc.code
    return "claimed"


async def _racing(
    settings: Settings, rls_free_db: Database, lock_sql: str, lock_id: uuid.UUID, claims: list[Any]
) -> list[str]:
    """Start ``claims`` while another transaction holds a row lock, so both are waiting at the
    same point; then let them go at once."""
    databases = [open_database(settings) for _ in claims]
    try:
        async with rls_free_db.engine.begin() as blocker:
            await blocker.execute(text(lock_sql), {"id": lock_id})
            tasks = [
                asyncio.create_task(claim(database))
                for claim, database in zip(claims, databases, strict=True)
            ]
            await asyncio.sleep(0.5)
            assert not any(task.done() for task in tasks)
        return list(await asyncio.gather(*tasks))
    finally:
        for database in databases:
            await database.dispose()


@pytest.mark.postgres
async def test_two_reps_claiming_one_customer_at_once_one_wins(
    business: dict[str, Any], settings: Settings, db: Database, rls_free_db: Database
) -> None:
    b = business
    pooled = _customer(b, "Pooled", "owner")
    b["client"].post(f"{API}/{pooled}/release", headers=b["owner"]["headers"])
    rep, other = await _principal(db, b, b["rep_id"]), await _principal(db, b, b["other_id"])

    results = await _racing(
        settings,
        rls_free_db,
        "SELECT 1 FROM customers WHERE id = :id FOR UPDATE",
        pooled,
        [lambda d: _claim(d, b, rep, pooled), lambda d: _claim(d, b, other, pooled)],
    )

    assert sorted(results) == ["already_claimed", "claimed"]
    assert (await _rows(rls_free_db))[pooled].owner_id in {b["rep_id"], b["other_id"]}


@pytest.mark.postgres
async def test_one_rep_claiming_two_customers_at_once_cannot_pass_the_cap_twice(
    business: dict[str, Any], settings: Settings, db: Database, rls_free_db: Database
) -> None:
    b = business
    _rules(b, max_owned_customers=2)
    _customer(b, "Already mine")
    first, second = _customer(b, "First", "owner"), _customer(b, "Second", "owner")
    for customer_id in (first, second):
        b["client"].post(f"{API}/{customer_id}/release", headers=b["owner"]["headers"])
    rep = await _principal(db, b, b["rep_id"])

    results = await _racing(
        settings,
        rls_free_db,
        "SELECT 1 FROM memberships WHERE id = :id FOR UPDATE",
        rep.membership_id,
        [lambda d: _claim(d, b, rep, first), lambda d: _claim(d, b, rep, second)],
    )

    assert sorted(results) == ["claimed", "pool_cap_reached"]
    rows = await _rows(rls_free_db)
    assert sum(1 for c in rows.values() if c.owner_id == b["rep_id"]) == 2
