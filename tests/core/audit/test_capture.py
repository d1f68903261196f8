"""Capture from the session: what is written, by whom, in the same transaction or not at all."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from core.audit import service as audit
from core.audit.chain import GENESIS_HASH, entry_hash
from core.audit.context import ActorType, audit_context
from core.audit.models import AuditChainHead, AuditEntry
from core.kernel.database import Database
from core.kernel.ids import new_id
from core.kernel.models import Tenant
from core.kernel.tenancy import tenant_context
from core.security.models import ApiKey, RefreshToken, Team, User

pytestmark = pytest.mark.anyio


async def _tenant(db: Database) -> uuid.UUID:
    tenant_id = new_id()
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            session.add(Tenant(id=tenant_id, name="Acme", slug=f"acme-{tenant_id.hex[:8]}"))
    return tenant_id


async def _log(db: Database, tenant_id: uuid.UUID) -> list[AuditEntry]:
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all())


async def test_a_create_update_and_delete_are_entries_with_their_diff(db: Database) -> None:
    tenant_id = await _tenant(db)
    with tenant_context(tenant_id), audit_context(ActorType.PLUGIN, "crm-sync", request_id="job-42"):
        async with db.transaction() as session:
            team = Team(name="North")
            session.add(team)
            await session.flush()
            team.name = "South"
            await session.flush()
            await session.delete(team)
    created, renamed, deleted = [e for e in await _log(db, tenant_id) if e.entity_type == "teams"]
    assert (created.action, renamed.action, deleted.action) == ("create", "update", "delete")
    assert created.entity_id == renamed.entity_id == deleted.entity_id == str(team.id)
    assert created.changes["after"]["name"] == "North"
    assert created.changes["before"] is None
    assert renamed.changes == {"before": {"name": "North"}, "after": {"name": "South"}}
    assert deleted.changes["before"]["name"] == "South"
    assert deleted.changes["after"] is None
    for entry in (created, renamed, deleted):
        assert (entry.actor_type, entry.actor_id, entry.request_id) == ("plugin", "crm-sync", "job-42")


async def test_a_rolled_back_transaction_leaves_no_entry(db: Database) -> None:
    tenant_id = await _tenant(db)
    before = [e.id for e in await _log(db, tenant_id)]

    async def failing_use_case() -> None:
        async with db.transaction() as session:
            session.add(Team(name="Never"))
            await session.flush()
            await audit.record(session, "something.explicit")
            raise RuntimeError("the use case failed")

    with tenant_context(tenant_id), pytest.raises(RuntimeError, match="use case failed"):
        await failing_use_case()
    assert [e.id for e in await _log(db, tenant_id)] == before
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            head = await session.scalar(select(AuditChainHead))
    assert head is not None
    assert head.last_seq == len(before)


async def test_technical_tables_opt_out_and_platform_tables_opt_in(db: Database) -> None:
    tenant_id = await _tenant(db)
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            user = User(email=f"{uuid.uuid4().hex}@example.com", full_name="A", password_hash="$argon2id$x")
            session.add(user)
            await session.flush()
            session.add(RefreshToken(user_id=user.id, family_id=uuid.uuid4(), expires_at=user.created_at))
    types = {e.entity_type for e in await _log(db, tenant_id)}
    assert types == {"tenants", "users"}
    assert RefreshToken.__audited__ is False
    assert AuditEntry.__audited__ is False


async def test_a_bulk_statement_is_one_entry_with_sensitive_values_redacted(db: Database) -> None:
    tenant_id = await _tenant(db)
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            session.add_all([Team(name="A"), Team(name="B")])
            await session.flush()
            await session.execute(update(Team).values(manager_membership_id=None))
            await session.execute(update(ApiKey).values(secret_hash="f" * 64, name="renamed"))
    bulk = [e for e in await _log(db, tenant_id) if e.action == "bulk_update"]
    assert [(e.entity_type, e.changes) for e in bulk] == [
        ("teams", {"rows": 2, "values": {"manager_membership_id": None}}),
        ("api_keys", {"rows": 0, "values": {"secret_hash": "[redacted]", "name": "renamed"}}),
    ]


async def test_a_bulk_statement_outside_any_tenant_cannot_escape_the_trail(db: Database) -> None:
    tenant_id = await _tenant(db)
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            session.add(Team(name="Before"))
    async with db.transaction() as session:
        with pytest.raises(RuntimeError, match="outside a tenant"):
            await session.execute(
                update(Team).values(name="Renamed everywhere").execution_options(all_tenants=True)
            )
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            assert (await session.scalars(select(Team.name))).all() == ["Before"]


async def test_each_entry_links_to_the_one_before(db: Database) -> None:
    tenant_id = await _tenant(db)
    with tenant_context(tenant_id):
        for name in ("A", "B", "C"):
            async with db.transaction() as session:
                session.add(Team(name=name))
    log = await _log(db, tenant_id)
    assert [e.seq for e in log] == list(range(1, len(log) + 1))
    previous = GENESIS_HASH
    for entry in log:
        row: dict[str, Any] = {c.key: getattr(entry, c.key) for c in AuditEntry.__mapper__.column_attrs}
        assert entry.prev_hash == previous
        assert entry_hash(row) == entry.hash
        previous = entry.hash
