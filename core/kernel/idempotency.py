"""Idempotency keys: a retried request replays the first answer instead of acting twice.

The database decides who runs a request: :func:`claim` inserts the key's row in a
transaction of its own, under the unique constraint ``(tenant_id, subject, key)``; the one
insert that commits owns the key, every other one finds the row and gets
:class:`Claim` ``replay`` (the stored answer), ``in_progress`` or ``mismatch`` back. The
owner runs the request, then :func:`complete` stores the answer (or :func:`release` frees the
key when the request failed, which changed nothing).

Keys are scoped to the tenant *and* the credential (``subject``: a membership or an API key),
so two integrations of one business never see each other's answers. They live
:data:`KEY_TTL`; :func:`purge_expired` deletes the older ones (to be run periodically by the
job scheduler).

This module knows nothing of HTTP: the caller passes a fingerprint and opaque answer parts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import LargeBinary, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.kernel.clock import utcnow
from core.kernel.database import Database
from core.kernel.models import Base, JSONType, Tenant, TenantOwned
from core.kernel.tenancy import ALL_TENANTS, tenant_context

__all__ = [
    "KEY_TTL",
    "Claim",
    "IdempotencyKey",
    "StoredAnswer",
    "claim",
    "complete",
    "delete_expired",
    "purge_expired",
    "release",
]

KEY_TTL = timedelta(hours=24)
IN_PROGRESS = "in_progress"
DONE = "done"


class IdempotencyKey(TenantOwned, Base):
    """One client-chosen key of one credential, and the answer to its first request."""

    __tablename__ = "idempotency_keys"
    __audited__: ClassVar[bool] = False  # technical: the request it guards is audited instead
    __table_args__ = (UniqueConstraint("tenant_id", "subject", "key"),)

    #: Who may replay it: ``user:<id>`` or ``api_key:<id>`` (within the tenant of the row).
    subject: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(255))
    #: SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default=IN_PROGRESS)
    status_code: Mapped[int | None]
    headers: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of :func:`claim`: exactly one of the flags, or ``answer`` for a replay."""

    owned: bool = False
    in_progress: bool = False
    mismatch: bool = False
    answer: StoredAnswer | None = None


async def claim(db: Database, tenant_id: uuid.UUID, subject: str, key: str, fingerprint: str) -> Claim:
    """Take the key for this request, or say why not (see :class:`Claim`)."""
    now = utcnow()
    with tenant_context(tenant_id):
        try:
            async with db.transaction() as session:
                await session.execute(
                    delete(IdempotencyKey).where(
                        IdempotencyKey.subject == subject,
                        IdempotencyKey.key == key,
                        IdempotencyKey.expires_at <= now,
                    )
                )
                session.add(
                    IdempotencyKey(
                        subject=subject, key=key, fingerprint=fingerprint, expires_at=now + KEY_TTL
                    )
                )
            return Claim(owned=True)
        except IntegrityError:
            pass
        async with db.transaction() as session:
            row = await session.scalar(
                select(IdempotencyKey).where(IdempotencyKey.subject == subject, IdempotencyKey.key == key)
            )
    if row is None:  # released by its owner in between: a retry will own it
        return Claim(in_progress=True)
    if row.fingerprint != fingerprint:
        return Claim(mismatch=True)
    if row.state != DONE or row.status_code is None:
        return Claim(in_progress=True)
    return Claim(answer=StoredAnswer(row.status_code, dict(row.headers), row.body or b""))


async def complete(db: Database, tenant_id: uuid.UUID, subject: str, key: str, answer: StoredAnswer) -> None:
    """Store the answer of the request that owned the key."""
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            row = await session.scalar(
                select(IdempotencyKey).where(IdempotencyKey.subject == subject, IdempotencyKey.key == key)
            )
            if row is not None:
                row.state = DONE
                row.status_code = answer.status_code
                row.headers = answer.headers
                row.body = answer.body


async def release(db: Database, tenant_id: uuid.UUID, subject: str, key: str) -> None:
    """Free the key of a request that failed (and so changed nothing): it may be retried."""
    with tenant_context(tenant_id):
        async with db.transaction() as session:
            await session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.subject == subject,
                    IdempotencyKey.key == key,
                    IdempotencyKey.state == IN_PROGRESS,
                )
            )


async def purge_expired(db: Database, now: datetime | None = None) -> int:
    """Delete expired keys of every tenant; returns how many.

    Row-level security shows a transaction one tenant's rows only, so this walks the
    tenants and deletes in each one's own transaction (the scheduled job fans out instead:
    one :func:`delete_expired` job per tenant).
    """
    now = now or utcnow()
    async with db.transaction() as session:
        tenant_ids = list(await session.scalars(select(Tenant.id).execution_options(**ALL_TENANTS)))
    purged = 0
    for tenant_id in tenant_ids:
        with tenant_context(tenant_id):
            async with db.transaction() as session:
                purged += await delete_expired(session, now)
    return purged


async def delete_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete the current tenant's expired keys; returns how many."""
    result: Any = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or utcnow()))
    )
    return int(result.rowcount or 0)
