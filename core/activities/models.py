"""Tables of the activities domain: activities (tasks included) and customer timeline entries.

Neither table has a foreign key to ``customers``: a subject may live in any domain (customer,
contact, lead, opportunity), and a merged customer's rows are re-pointed to the survivor after
the merge commits (``customers.merged``), so they must outlive the merged row meanwhile.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto.fields import encrypted_column
from core.kernel.clock import utcnow
from core.kernel.concurrency import Versioned
from core.kernel.models import Base, JSONType, TenantOwned

__all__ = ["Activity", "ActivityKind", "Priority", "TaskStatus", "TimelineEntry"]


class ActivityKind:
    CALL = "call"
    MEETING = "meeting"
    VISIT = "visit"
    NOTE = "note"
    EMAIL = "email"
    TASK = "task"
    ALL = (CALL, MEETING, VISIT, NOTE, EMAIL, TASK)


class TaskStatus:
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"
    ALL = (OPEN, DONE, CANCELLED)


class Priority:
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    ALL = (LOW, NORMAL, HIGH)


class Activity(Versioned, TenantOwned, Base):
    """Something done (a call, a visit...) or to do (a task) about one subject.

    Scope: an activity is visible to whoever's scope covers its owner *or* its assignee.
    """

    __tablename__ = "activities"
    __table_args__ = (
        CheckConstraint("kind IN ('call', 'meeting', 'visit', 'note', 'email', 'task')", name="kind"),
        CheckConstraint("status IS NULL OR status IN ('open', 'done', 'cancelled')", name="status"),
        CheckConstraint("duration_minutes IS NULL OR duration_minutes >= 0", name="duration_positive"),
        Index("ix_activities_tenant_id_customer_id", "tenant_id", "customer_id", "occurred_at"),
        Index("ix_activities_tenant_id_subject", "tenant_id", "subject_type", "subject_id"),
        Index("ix_activities_tenant_id_owner_id", "tenant_id", "owner_id"),
        Index("ix_activities_tenant_id_assignee_id", "tenant_id", "assignee_id", "status"),
        Index("ix_activities_tenant_id_remind_at", "tenant_id", "remind_at"),
    )

    kind: Mapped[str] = mapped_column(String(20))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[uuid.UUID] = mapped_column()
    #: The customer the subject belongs to (None for a lead with no customer yet).
    customer_id: Mapped[uuid.UUID | None] = mapped_column()
    #: Who logged it (or owns the task); a leaver transfer moves it.
    owner_id: Mapped[uuid.UUID] = mapped_column()
    team_id: Mapped[uuid.UUID | None] = mapped_column()
    subject: Mapped[str] = mapped_column(String(200), info={"sensitive": True})
    body: Mapped[str | None] = encrypted_column(nullable=True)
    #: When it happened (logged activities) or was created (tasks): the timeline's time.
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_minutes: Mapped[int | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(80))
    # Tasks only.
    due_at: Mapped[datetime | None] = mapped_column()
    assignee_id: Mapped[uuid.UUID | None] = mapped_column()
    priority: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str | None] = mapped_column(String(10))
    completed_at: Mapped[datetime | None] = mapped_column()
    remind_at: Mapped[datetime | None] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TimelineEntry(TenantOwned, Base):
    """One domain event about a customer, written by a handler after the event's commit.

    ``data`` is the event payload: ids and field names, never personal data. One entry per
    event id (``event_id``), so a redelivered event adds nothing.
    """

    __tablename__ = "timeline_entries"
    #: Derived from events (themselves traced by the audit of the change that caused them).
    __audited__: ClassVar[bool] = False
    __table_args__ = (
        UniqueConstraint("tenant_id", "event_id"),
        Index("ix_timeline_entries_tenant_id_customer_id", "tenant_id", "customer_id", "occurred_at"),
        Index("ix_timeline_entries_tenant_id_ref", "tenant_id", "ref_type", "ref_id"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column()
    event_id: Mapped[uuid.UUID] = mapped_column()
    event: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    ref_type: Mapped[str | None] = mapped_column(String(40))
    ref_id: Mapped[uuid.UUID | None] = mapped_column()
