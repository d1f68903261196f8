"""An import's batch writes its new records without the unit of work; what it stores (rows,
ciphertexts, blind indexes, audit entries and their chain) is what a flush stores."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from core.audit.models import AuditEntry
from core.audit.verify import verify_chains
from core.customers.models import Contact, Customer
from core.imports.writes import insert_new
from core.kernel.database import Database
from core.kernel.tenancy import CrossTenantWrite, tenant_context
from core.security.models import Team
from tests.core.crypto.factories import Shop, new_shop

pytestmark = pytest.mark.anyio

ASSIGNED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
#: What differs between two writes of the same records: their ids and the time of writing.
VARYING = {"id", "customer_id", "created_at", "updated_at"}


def _customers(owner_id: uuid.UUID) -> list[Customer]:
    """Customers as the import builds them: every kind of value, unset ones, None ones."""
    return [
        Customer(
            kind="company",
            name="华北机械有限公司",
            level="A",
            source="展会",
            industry="制造",
            stage="prospect",
            tags=["重点", "华北"],
            phone="+8613800138000",
            email="buyer@example.com",
            address="北京市朝阳区建国路1号",
            id_number=None,
            custom_fields={"budget": {"amount": "1000.00", "currency": "CNY"}},
            last_contacted_at=None,
            assigned_at=ASSIGNED,
            owner_id=owner_id,
        ),
        Customer(
            kind="individual", name="李雷", stage=None, id_number="110101199003070000", owner_id=owner_id
        ),
        Customer(kind="company", name="Globex", tags=[], phone=None, email="Sales@Globex.example"),
    ]


def _contacts(customers: list[Customer]) -> list[Contact]:
    return [
        Contact(customer_id=customers[0].id, name="韩梅梅", phone="+8613900139000", is_primary=True),
        Contact(
            customer_id=customers[0].id, name="Jim", title="CTO", email="jim@example.com", custom_fields={}
        ),
        Contact(customer_id=customers[2].id, name="Lucy"),
    ]


async def _write(db: Database, shop: Shop, flush: bool) -> list[uuid.UUID]:
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            customers = _customers(shop.owner_id)
            if flush:
                session.add_all(customers)
                await session.flush()
            else:
                await insert_new(session, customers)
            contacts = _contacts(customers)
            if flush:
                session.add_all(contacts)
                await session.flush()
            else:
                await insert_new(session, contacts)
            assert [c.version for c in [*customers, *contacts]] == [1] * 6  # as after a flush
            assert all(c.created_at is not None for c in customers)
            return [c.id for c in [*customers, *contacts]]


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<varies>" if k in VARYING else _normalized(v) for k, v in value.items()}
    return value


async def _entries(db: Database, shop: Shop, ids: list[uuid.UUID]) -> list[AuditEntry]:
    """The entries about ``ids``, in chain order."""
    wanted = {str(i) for i in ids}
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all()
    return [e for e in entries if e.entity_id in wanted]


async def _read_back(db: Database, shop: Shop, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """Each record as the ORM reads it back (decrypted), in the order of ``ids``."""
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            found: dict[uuid.UUID, Any] = {}
            for model in (Customer, Contact):
                for row in (await session.scalars(select(model).where(model.id.in_(ids)))).all():
                    found[row.id] = {
                        a.key: getattr(row, a.key)
                        for a in model.__mapper__.column_attrs
                        if a.key not in VARYING
                    }
    return [found[i] for i in ids]


async def _stored_indexes(db: Database, ids: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    """The blind indexes as stored, around the ORM, in the order of ``ids``."""
    async with db.engine.connect() as conn:
        rows = {}
        for table in ("customers", "contacts"):
            result = await conn.execute(text(f"SELECT id, phone_bidx, email_bidx FROM {table}"))
            rows.update({uuid.UUID(str(r[0])): (r[1], r[2]) for r in result})
    return [rows[i] for i in ids]


async def test_a_batch_written_without_the_unit_of_work_stores_what_a_flush_stores(
    rls_free_db: Database,
) -> None:
    db = rls_free_db
    shop = await new_shop(db)

    flushed = await _write(db, shop, flush=True)
    written = await _write(db, shop, flush=False)

    assert await _read_back(db, shop, written) == await _read_back(db, shop, flushed)
    assert await _stored_indexes(db, written) == await _stored_indexes(db, flushed)
    by_flush, by_insert = await _entries(db, shop, flushed), await _entries(db, shop, written)
    assert len(by_insert) == len(by_flush) == 6
    # A flush writes each table's entries in the order of their ids; so does the batch.
    for entries in (by_flush, by_insert):
        assert [e.entity_id for e in entries[:3]] == sorted(e.entity_id for e in entries[:3])
        assert [e.entity_id for e in entries[3:]] == sorted(e.entity_id for e in entries[3:])
    for one, other in zip(by_flush, by_insert, strict=True):
        assert (other.action, other.entity_type, other.actor_type) == (
            one.action,
            one.entity_type,
            one.actor_type,
        )
        assert flushed.index(uuid.UUID(one.entity_id)) == written.index(uuid.UUID(other.entity_id))
        assert _normalized(other.changes) == _normalized(one.changes)
    assert json.dumps(by_insert[0].changes["after"]["phone"]) == '"[redacted]"'
    assert (await verify_chains(db)).problems == []


async def test_a_record_of_another_tenant_is_refused(db: Database) -> None:
    shop, other = await new_shop(db, "Acme"), await new_shop(db, "Other")
    intruder = Customer(kind="company", name="Intruder", tenant_id=other.tenant_id)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            with pytest.raises(CrossTenantWrite):
                await insert_new(session, [intruder])


async def test_rows_that_break_the_given_unique_constraint_are_skipped_and_not_audited(db: Database) -> None:
    shop = await new_shop(db)
    with tenant_context(shop.tenant_id):
        async with db.transaction() as session:
            await insert_new(session, [Team(name="华北")])
            again, new = Team(name="华北"), Team(name="华南")
            written = await insert_new(session, [again, new], skip_conflicts_on=("tenant_id", "name"))
            stored = (await session.execute(select(Team.id, Team.name).order_by(Team.name))).all()

    assert written == [new]
    assert sorted(name for _, name in stored) == ["华北", "华南"]
    assert again.id not in {team_id for team_id, _ in stored}
    entries = await _entries(db, shop, [team_id for team_id, _ in stored] + [again.id])
    assert sorted(e.changes["after"]["name"] for e in entries) == ["华北", "华南"]
    assert (await verify_chains(db)).problems == []
