"""The outbox: events and job requests written in the transaction that caused them.

The outbox is a platform queue that the relay reads across tenants, so it is not
tenant-owned; ``tenant_ref`` names the tenant the work runs for (null for platform jobs).
Rows are only ever written by :mod:`core.events.service`, which takes the tenant from the
context, never from the caller.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.kernel.clock import utcnow
from core.kernel.ids import new_id
from core.kernel.models import Base, JSONType

__all__ = ["OutboxKind", "OutboxMessage"]


class OutboxKind:
    EVENT = "event"
    JOB = "job"


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_pending", "dispatched_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_ref: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    #: ``event`` (fanned out to every handler of ``name``) or ``job`` (run by job ``name``).
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(default=1)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: Set on a replay: only this handler receives the event.
    only_handler: Mapped[str | None] = mapped_column(String(200))
    #: The id handlers deduplicate on: the row's own id, or the original one on a replay.
    message_id: Mapped[uuid.UUID] = mapped_column(default=new_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None]
