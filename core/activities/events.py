"""Domain events of the activities package: ids only, never the subject line or notes."""

from __future__ import annotations

import uuid
from typing import ClassVar

from core.events.schemas import DomainEvent

__all__ = ["ActivityCreated", "TaskCompleted"]


class ActivityCreated(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "activities.created"
    version: ClassVar[int] = 1
    activity_id: uuid.UUID
    kind: str
    subject_type: str
    subject_id: uuid.UUID
    customer_id: uuid.UUID | None
    owner_id: uuid.UUID


class TaskCompleted(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "activities.task_completed"
    version: ClassVar[int] = 1
    activity_id: uuid.UUID
    customer_id: uuid.UUID | None
    assignee_id: uuid.UUID | None
    completed_by: uuid.UUID | None
