"""Activity and task use cases; each public function is one transaction's worth of work."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.activities.access import activity_in_scope, activity_scope
from core.activities.events import ActivityCreated, TaskCompleted
from core.activities.models import Activity, ActivityKind, Priority, TaskStatus
from core.activities.permissions import CREATE, DELETE, READ, UPDATE
from core.activities.schemas import ActivityCreate, ActivityFilter, ActivityUpdate, ActivityView
from core.activities.subjects import SubjectRegistry
from core.activities.views import activity_view
from core.customers.access import active_membership, mark_contacted
from core.events.service import record_event
from core.kernel.clock import utcnow
from core.kernel.concurrency import ensure_version
from core.kernel.errors import Conflict, Invalid, one_of
from core.kernel.pagination import Page, PageRequest, paginate
from core.security.principal import Principal

__all__ = [
    "CONTACT_KINDS",
    "TASK_FIELDS",
    "complete_task",
    "create_activity",
    "delete_activity",
    "get_activity",
    "list_activities",
    "reopen_task",
    "transfer_activities",
    "update_activity",
]

#: Kinds that are a contact with the customer: logging one moves its ``last_contacted_at``.
CONTACT_KINDS = (ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.VISIT, ActivityKind.EMAIL)
#: Fields only a task has.
TASK_FIELDS = ("due_at", "assignee_id", "priority", "remind_at", "remind_minutes_before", "status")
SORTABLE = {
    "occurred_at": Activity.occurred_at,
    "due_at": Activity.due_at,
    "created_at": Activity.created_at,
    "updated_at": Activity.updated_at,
}


def _only_for_tasks(kind: str, values: dict[str, Any]) -> None:
    if kind == ActivityKind.TASK:
        if values.get("occurred_at") is not None:
            raise Invalid(
                "A task has a due time, not an occurred time.", field="occurred_at", code="not_for_tasks"
            )
        return
    for field in TASK_FIELDS:
        if values.get(field) is not None:
            raise Invalid("Only tasks have this field.", field=field, code="only_for_tasks")


def _subject_line(value: str) -> str:
    value = value.strip()
    if not value:
        raise Invalid("A subject line is required.", field="subject", code="required")
    return value


def _remind_at(
    remind_at: datetime | None, minutes_before: int | None, due_at: datetime | None
) -> datetime | None:
    if minutes_before is None:
        return remind_at
    if remind_at is not None:
        raise Invalid(
            "Give remind_at or remind_minutes_before, not both.",
            field="remind_minutes_before",
            code="conflicting",
        )
    if due_at is None:
        raise Invalid("A reminder before the due time needs a due time.", field="due_at", code="required")
    return due_at - timedelta(minutes=minutes_before)


async def _mark_contacted(session: AsyncSession, activity: Activity) -> None:
    if activity.kind in CONTACT_KINDS and activity.customer_id is not None:
        await mark_contacted(session, activity.customer_id, activity.occurred_at)


async def create_activity(
    session: AsyncSession, principal: Principal, subjects: SubjectRegistry, data: ActivityCreate
) -> ActivityView:
    """Log an activity or add a task about a subject within the caller's scope. A call,
    meeting, visit or email moves the customer's ``last_contacted_at`` in this transaction."""
    kind = one_of(data.kind, ActivityKind.ALL, "kind")
    _only_for_tasks(kind, msgspec.structs.asdict(data))
    ref = await subjects.resolve(session, principal, data.subject_type, data.subject_id, CREATE)
    owner_id = data.owner_id or principal.user_id
    if owner_id is None:
        raise Invalid("Name the owner (a user id).", field="owner_id", code="required")
    owner = await active_membership(session, principal, owner_id, CREATE, "owner_id", records="activities")
    activity = Activity(
        kind=kind,
        subject_type=data.subject_type,
        subject_id=data.subject_id,
        customer_id=ref.customer_id,
        owner_id=owner_id,
        team_id=owner.team_id,
        subject=_subject_line(data.subject),
        body=data.body,
        occurred_at=data.occurred_at or utcnow(),
        duration_minutes=data.duration_minutes,
        outcome=data.outcome,
    )
    if kind == ActivityKind.TASK:
        assignee_id = data.assignee_id or owner_id
        await active_membership(session, principal, assignee_id, CREATE, "assignee_id", records="tasks")
        activity.assignee_id = assignee_id
        activity.status = TaskStatus.OPEN
        activity.priority = one_of(data.priority or Priority.NORMAL, Priority.ALL, "priority")
        activity.due_at = data.due_at
        activity.remind_at = _remind_at(data.remind_at, data.remind_minutes_before, data.due_at)
    session.add(activity)
    await session.flush()
    await _mark_contacted(session, activity)
    await record_event(
        session,
        ActivityCreated(
            activity_id=activity.id,
            kind=kind,
            subject_type=activity.subject_type,
            subject_id=activity.subject_id,
            customer_id=activity.customer_id,
            owner_id=owner_id,
        ),
    )
    return activity_view(activity)


def _filtered(stmt: Select[Any], f: ActivityFilter, principal: Principal) -> Select[Any]:
    if f.kind:
        stmt = stmt.where(Activity.kind == f.kind)
    if f.subject_type:
        stmt = stmt.where(Activity.subject_type == f.subject_type)
    if f.subject_id:
        stmt = stmt.where(Activity.subject_id == f.subject_id)
    if f.customer_id:
        stmt = stmt.where(Activity.customer_id == f.customer_id)
    if f.owner_id:
        stmt = stmt.where(Activity.owner_id == f.owner_id)
    if f.assignee_id:
        stmt = stmt.where(Activity.assignee_id == f.assignee_id)
    if f.status:
        stmt = stmt.where(Activity.status == f.status)
    if f.due_from:
        stmt = stmt.where(Activity.due_at >= f.due_from)
    if f.due_to:
        stmt = stmt.where(Activity.due_at < f.due_to)
    if f.overdue:
        stmt = stmt.where(Activity.status == TaskStatus.OPEN, Activity.due_at < utcnow())
    if f.mine:
        me = principal.user_id
        stmt = stmt.where(or_(Activity.owner_id == me, Activity.assignee_id == me))
    return stmt


async def list_activities(
    session: AsyncSession, principal: Principal, page: PageRequest, f: ActivityFilter
) -> Page[ActivityView]:
    """Activities within the caller's scope (owner or assignee), filtered, sorted and paged."""
    stmt = _filtered(select(Activity), f, principal).where(await activity_scope(session, principal, READ))
    now = utcnow()
    return await paginate(
        session, stmt, Activity.id, page, lambda a: activity_view(a, now), sortable=SORTABLE
    )


async def get_activity(session: AsyncSession, principal: Principal, activity_id: uuid.UUID) -> ActivityView:
    return activity_view(await activity_in_scope(session, principal, activity_id, READ))


async def _apply_task_fields(
    session: AsyncSession, principal: Principal, activity: Activity, values: dict[str, Any]
) -> None:
    if "priority" in values:
        one_of(values["priority"], Priority.ALL, "priority")
    if "status" in values:
        one_of(values["status"], (TaskStatus.CANCELLED,), "status")
        if activity.status != TaskStatus.OPEN:
            raise Conflict("Only an open task can be cancelled.", field="status", code="task_not_open")
    if "assignee_id" in values and values["assignee_id"] != activity.assignee_id:
        await active_membership(
            session, principal, values["assignee_id"], UPDATE, "assignee_id", records="tasks"
        )
    minutes = values.pop("remind_minutes_before", None)
    if minutes is not None:
        values["remind_at"] = _remind_at(
            values.get("remind_at"), minutes, values.get("due_at", activity.due_at)
        )
    if values.keys() & {"due_at", "remind_at"}:
        # A new time: the reminder is due again.
        values["reminded_at"] = None


async def update_activity(
    session: AsyncSession,
    principal: Principal,
    subjects: SubjectRegistry,
    activity_id: uuid.UUID,
    change: ActivityUpdate,
    *,
    expected_version: int | None = None,
) -> ActivityView:
    activity = await activity_in_scope(session, principal, activity_id, UPDATE, lock=True)
    ensure_version(activity, expected_version)
    values = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not msgspec.UNSET}
    _only_for_tasks(activity.kind, values)
    if "subject" in values:
        values["subject"] = _subject_line(values["subject"])
    if values.keys() & {"subject_type", "subject_id"}:
        subject_type = values.get("subject_type", activity.subject_type)
        subject_id = values.get("subject_id", activity.subject_id)
        ref = await subjects.resolve(session, principal, subject_type, subject_id, UPDATE)
        values["customer_id"] = ref.customer_id
    if activity.kind == ActivityKind.TASK:
        await _apply_task_fields(session, principal, activity, values)
    if values.get("status") == TaskStatus.CANCELLED:
        values["completed_at"] = None
    changed = {k: v for k, v in values.items() if getattr(activity, k) != v}
    for key, value in changed.items():
        setattr(activity, key, value)
    if changed:
        await session.flush()
        if changed.keys() & {"occurred_at", "customer_id"}:
            await _mark_contacted(session, activity)
    return activity_view(activity)


async def delete_activity(
    session: AsyncSession,
    principal: Principal,
    activity_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> None:
    activity = await activity_in_scope(session, principal, activity_id, DELETE, lock=True)
    ensure_version(activity, expected_version)
    await session.delete(activity)
    await session.flush()


async def _task(
    session: AsyncSession, principal: Principal, activity_id: uuid.UUID, expected_version: int | None
) -> Activity:
    task = await activity_in_scope(session, principal, activity_id, UPDATE, lock=True)
    ensure_version(task, expected_version)
    if task.kind != ActivityKind.TASK:
        raise Conflict("Only tasks are completed and reopened.", code="not_a_task")
    return task


async def complete_task(
    session: AsyncSession,
    principal: Principal,
    activity_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> ActivityView:
    """Mark an open task done; records ``activities.task_completed``."""
    task = await _task(session, principal, activity_id, expected_version)
    if task.status != TaskStatus.OPEN:
        raise Conflict("Only an open task can be completed.", code="task_not_open")
    task.status = TaskStatus.DONE
    task.completed_at = utcnow()
    await session.flush()
    await record_event(
        session,
        TaskCompleted(
            activity_id=task.id,
            customer_id=task.customer_id,
            assignee_id=task.assignee_id,
            completed_by=principal.user_id,
        ),
    )
    return activity_view(task)


async def reopen_task(
    session: AsyncSession,
    principal: Principal,
    activity_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> ActivityView:
    """Open a done or cancelled task again."""
    task = await _task(session, principal, activity_id, expected_version)
    if task.status == TaskStatus.OPEN:
        raise Conflict("The task is already open.", code="task_open")
    task.status = TaskStatus.OPEN
    task.completed_at = None
    await session.flush()
    return activity_view(task)


async def transfer_activities(
    session: AsyncSession,
    from_user_id: uuid.UUID,
    to_user_id: uuid.UUID,
    team_id: uuid.UUID | None,
    customer_ids: Sequence[uuid.UUID] | None = None,
) -> int:
    """For a leaver transfer, inside the caller's transaction (which checked permissions):
    every activity owned by ``from_user_id`` gets ``owner_id=to_user_id`` and ``team_id``, and
    every open task assigned to ``from_user_id`` gets ``assignee_id=to_user_id`` — only those
    about ``customer_ids`` when given. Returns how many rows changed."""
    about = () if customer_ids is None else (Activity.customer_id.in_(customer_ids),)
    owned = await session.execute(
        update(Activity)
        .where(Activity.owner_id == from_user_id, *about)
        .values(owner_id=to_user_id, team_id=team_id, version=Activity.version + 1)
    )
    assigned = await session.execute(
        update(Activity)
        .where(Activity.assignee_id == from_user_id, Activity.status == TaskStatus.OPEN, *about)
        .values(assignee_id=to_user_id, version=Activity.version + 1)
    )
    return int(owned.rowcount) + int(assigned.rowcount)  # type: ignore[attr-defined]
