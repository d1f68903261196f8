"""Read models of the job machinery."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

__all__ = ["DeadLetterView"]


class DeadLetterView(msgspec.Struct):
    id: uuid.UUID
    #: The tenant the message ran for; null for a platform job.
    tenant_id: uuid.UUID | None
    #: ``event`` or ``job``.
    kind: str
    #: The event type or the job name.
    name: str
    #: The handler that failed (events only).
    handler: str | None
    #: The dramatiq actor: ``handler:<name>`` or ``job:<name>``.
    actor: str
    #: The event id (or job request id) the handler deduplicates on; a replay keeps it.
    event_id: uuid.UUID
    payload: dict[str, Any]
    error: str
    attempts: int
    created_at: datetime
    replayed_at: datetime | None
