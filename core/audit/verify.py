"""``huike audit verify``: walk each tenant's chain and report the first entry that was edited,
deleted or reordered.

An edited entry no longer matches its hash; a deleted one leaves a gap in the sequence (or,
if it was the newest, a chain shorter than its head remembers); swapped entries break the
link from each entry to the hash of the one before it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import or_, select

from core.audit.chain import entry_hash
from core.audit.models import GENESIS_HASH, AuditChainHead, AuditEntry
from core.audit.schemas import ChainProblem, ChainReport
from core.kernel.database import Database
from core.kernel.errors import NotFound
from core.kernel.models import Tenant
from core.kernel.tenancy import tenant_context

__all__ = ["verify_chains"]

_BATCH = 1000


async def verify_chains(db: Database, tenant_ref: str | None = None) -> ChainReport:
    """Verify every tenant's chain, or the one of ``tenant_ref`` (id or slug)."""
    async with db.transaction() as session:
        stmt = select(Tenant.id, Tenant.slug).order_by(Tenant.created_at, Tenant.id)
        if tenant_ref is not None:
            stmt = stmt.where(or_(Tenant.slug == tenant_ref, Tenant.id == _maybe_uuid(tenant_ref)))
        tenants = (await session.execute(stmt)).all()
    if tenant_ref is not None and not tenants:
        raise NotFound(f"No tenant {tenant_ref!r}.", field="tenant")
    report = ChainReport(tenants=len(tenants), entries=0, problems=[])
    for tenant_id, slug in tenants:
        with tenant_context(tenant_id):
            count, problem = await _verify_one(db)
        report.entries += count
        if problem is not None:
            seq, what = problem
            report.problems.append(ChainProblem(tenant_id=tenant_id, tenant_slug=slug, seq=seq, problem=what))
    return report


def _maybe_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def _entries(db: Database) -> AsyncIterator[AuditEntry]:
    after = 0
    while True:
        async with db.transaction() as session:
            batch = list(
                (
                    await session.scalars(
                        select(AuditEntry)
                        .where(AuditEntry.seq > after)
                        .order_by(AuditEntry.seq)
                        .limit(_BATCH)
                    )
                ).all()
            )
        if not batch:
            return
        for entry in batch:
            yield entry
        after = batch[-1].seq


async def _verify_one(db: Database) -> tuple[int, tuple[int, str] | None]:
    """Return how many entries the chain holds and its first problem, if any."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    async for entry in _entries(db):
        count += 1
        row = {c.key: getattr(entry, c.key) for c in AuditEntry.__mapper__.column_attrs}
        if entry.seq != expected_seq:
            return count, (expected_seq, f"entry {expected_seq} is missing (the next one is {entry.seq})")
        if entry.prev_hash != prev_hash:
            return count, (
                entry.seq,
                "the entry does not follow the one before it "
                "(entries reordered, or the previous one replaced)",
            )
        if entry_hash(row) != entry.hash:
            return count, (entry.seq, "the entry was edited: its content no longer matches its hash")
        prev_hash, expected_seq = entry.hash, expected_seq + 1
    async with db.transaction() as session:
        head = await session.scalar(select(AuditChainHead))
    last_seq = head.last_seq if head else 0
    if last_seq != expected_seq - 1:
        return count, (
            last_seq,
            f"the chain head records {last_seq} entries but {expected_seq - 1} remain (newest deleted)",
        )
    if head is not None and head.last_hash != prev_hash:
        return count, (last_seq, "the newest entry does not match the hash the chain head remembers")
    return count, None
