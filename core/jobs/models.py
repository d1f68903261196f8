"""Platform tables of the job machinery: processed messages, dead letters, schedules.

Like the outbox they are read and purged across tenants by the platform, so they are not
tenant-owned; ``tenant_ref`` names the tenant a message ran for.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.kernel.clock import utcnow
from core.kernel.ids import new_id
from core.kernel.models import Base, JSONType

__all__ = ["DeadLetter", "PeriodicSchedule", "ProcessedMessage"]


class ProcessedMessage(Base):
    """Written in the handler's own transaction: a redelivered message finds its row and is
    skipped, so the handler's effect happens once."""

    __tablename__ = "processed_messages"

    handler: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_ref: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class DeadLetter(Base):
    """A message whose handler kept failing (or was refused); platform admins replay it."""

    __tablename__ = "dead_letters"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_ref: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    #: The event type or job name.
    name: Mapped[str] = mapped_column(String(120))
    #: The handler (events) or job that failed, as its dramatiq actor name.
    actor: Mapped[str] = mapped_column(String(210))
    message_id: Mapped[uuid.UUID]
    version: Mapped[int] = mapped_column(default=1)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    replayed_at: Mapped[datetime | None]


class PeriodicSchedule(Base):
    """When each periodic job is next due. Firing is a conditional UPDATE of ``next_run_at``
    from the due time it read: of two schedulers, exactly one wins each due run."""

    __tablename__ = "periodic_schedules"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    next_run_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
    last_fired_by: Mapped[str | None] = mapped_column(String(120))
