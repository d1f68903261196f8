"""Read models built from rows."""

from __future__ import annotations

from datetime import datetime

from core.activities.models import Activity, TaskStatus, TimelineEntry
from core.activities.schemas import ActivityView, TimelineEntryView
from core.kernel.clock import utcnow

__all__ = ["activity_view", "entry_view"]


def activity_view(activity: Activity, now: datetime | None = None) -> ActivityView:
    now = now or utcnow()
    return ActivityView(
        id=activity.id,
        kind=activity.kind,
        subject_type=activity.subject_type,
        subject_id=activity.subject_id,
        customer_id=activity.customer_id,
        owner_id=activity.owner_id,
        team_id=activity.team_id,
        subject=activity.subject,
        body=str(activity.body) if activity.body is not None else None,
        occurred_at=activity.occurred_at,
        duration_minutes=activity.duration_minutes,
        outcome=activity.outcome,
        due_at=activity.due_at,
        assignee_id=activity.assignee_id,
        priority=activity.priority,
        status=activity.status,
        completed_at=activity.completed_at,
        remind_at=activity.remind_at,
        reminded_at=activity.reminded_at,
        overdue=activity.status == TaskStatus.OPEN and activity.due_at is not None and activity.due_at < now,
        created_at=activity.created_at,
        updated_at=activity.updated_at,
        version=activity.version,
    )


def entry_view(entry: TimelineEntry) -> TimelineEntryView:
    return TimelineEntryView(
        id=entry.id,
        event=entry.event,
        occurred_at=entry.occurred_at,
        data=dict(entry.data or {}),
        actor_id=entry.actor_id,
        ref_type=entry.ref_type,
        ref_id=entry.ref_id,
    )
