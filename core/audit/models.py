"""The audit log: one hash-chained sequence of entries per tenant, and the head of each chain.

Both tables are themselves opted out of automatic capture (``__audited__ = False``): an
entry about writing an entry would never end.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.kernel.clock import utcnow
from core.kernel.models import Base, JSONType, TenantOwned

__all__ = ["GENESIS_HASH", "AuditChainHead", "AuditEntry"]

#: The ``prev_hash`` of a chain's first entry.
GENESIS_HASH = "0" * 64


class AuditEntry(TenantOwned, Base):
    """Who did what to which record, when and from where, with a redacted before/after diff."""

    __tablename__ = "audit_entries"
    __audited__: ClassVar[bool] = False
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        Index("ix_audit_entries_tenant_entity", "tenant_id", "entity_type", "entity_id"),
        Index("ix_audit_entries_tenant_occurred", "tenant_id", "occurred_at"),
    )

    #: Position in the tenant's chain: 1, 2, 3... without gaps.
    seq: Mapped[int]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str | None] = mapped_column(String(80))
    entity_id: Mapped[str | None] = mapped_column(String(200))
    #: ``{"before": {...} | None, "after": {...} | None}`` or the details of an explicit entry.
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    ip: Mapped[str | None] = mapped_column(String(100))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(TenantOwned, Base):
    """The newest entry of a tenant's chain. Appends lock this row, so two transactions never
    fork the chain; and since it remembers the last entry, deleting that entry is detected."""

    __tablename__ = "audit_chain_heads"
    __audited__: ClassVar[bool] = False
    __table_args__ = (UniqueConstraint("tenant_id"),)

    last_seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
