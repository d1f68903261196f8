"""Commands and read models of the activities package (msgspec Structs at the edges)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

__all__ = [
    "ActivityCreate",
    "ActivityFilter",
    "ActivityUpdate",
    "ActivityView",
    "TimelineEntryView",
    "TimelineItem",
]

SubjectLine = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Body = Annotated[str, msgspec.Meta(max_length=20000)]
Short = Annotated[str, msgspec.Meta(max_length=80)]
Minutes = Annotated[int, msgspec.Meta(ge=0, le=60 * 24 * 366)]
#: Timezone-aware (naive datetimes are refused with 422).
Moment = Annotated[datetime, msgspec.Meta(tz=True)]
UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class ActivityCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Log an activity (call, meeting, visit, note, email) or add a task (``kind="task"``)
    about a subject (``customer``, ``contact``, and the types other domains register)."""

    kind: str
    subject_type: str
    subject_id: uuid.UUID
    subject: SubjectLine
    body: Body | None = None
    #: When it happened; defaults to now. Not for tasks.
    occurred_at: Moment | None = None
    duration_minutes: Minutes | None = None
    outcome: Short | None = None
    #: Who logged it or owns the task (a user id); defaults to the caller.
    owner_id: uuid.UUID | None = None
    # Tasks only.
    due_at: Moment | None = None
    #: A user id; defaults to the caller.
    assignee_id: uuid.UUID | None = None
    priority: str | None = None
    remind_at: Moment | None = None
    #: Instead of ``remind_at``: this many minutes before ``due_at``.
    remind_minutes_before: Minutes | None = None


class ActivityUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Kind and owner do not change; status changes through complete and reopen."""

    subject_type: str | Unset = UNSET
    subject_id: uuid.UUID | Unset = UNSET
    subject: SubjectLine | Unset = UNSET
    body: Body | Unset | None = UNSET
    occurred_at: Moment | Unset = UNSET
    duration_minutes: Minutes | Unset | None = UNSET
    outcome: Short | Unset | None = UNSET
    due_at: Moment | Unset | None = UNSET
    assignee_id: uuid.UUID | Unset = UNSET
    priority: str | Unset = UNSET
    remind_at: Moment | Unset | None = UNSET
    remind_minutes_before: Minutes | Unset = UNSET
    #: Cancel an open task (``cancelled``); completing is ``POST .../complete``.
    status: str | Unset = UNSET


class ActivityView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kind: str
    subject_type: str
    subject_id: uuid.UUID
    customer_id: uuid.UUID | None
    owner_id: uuid.UUID
    team_id: uuid.UUID | None
    subject: str
    body: str | None
    occurred_at: datetime
    duration_minutes: int | None
    outcome: str | None
    due_at: datetime | None
    assignee_id: uuid.UUID | None
    priority: str | None
    status: str | None
    completed_at: datetime | None
    remind_at: datetime | None
    reminded_at: datetime | None
    #: An open task past its due time.
    overdue: bool
    created_at: datetime
    updated_at: datetime
    version: int


class ActivityFilter(msgspec.Struct, kw_only=True):
    """List filters; every one is optional and they combine with AND."""

    kind: str | None = None
    subject_type: str | None = None
    subject_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None
    status: str | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None
    #: Open tasks past their due time.
    overdue: bool = False
    #: Owned by or assigned to the caller.
    mine: bool = False


class TimelineEntryView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    event: str
    occurred_at: datetime
    data: dict[str, Any]
    actor_id: uuid.UUID | None
    ref_type: str | None
    ref_id: uuid.UUID | None


class TimelineItem(msgspec.Struct, kw_only=True):
    """One line of a customer's timeline: an ``activity`` or an ``event`` (a timeline entry)."""

    type: str
    id: uuid.UUID
    occurred_at: datetime
    activity: ActivityView | None = None
    entry: TimelineEntryView | None = None
