"""Read models and filters of the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

__all__ = ["AuditEntryView", "AuditFilter", "ChainProblem", "ChainReport"]


class AuditEntryView(msgspec.Struct):
    id: uuid.UUID
    seq: int
    occurred_at: datetime
    actor_type: str
    actor_id: str | None
    action: str
    entity_type: str | None
    entity_id: str | None
    changes: dict[str, Any]
    ip: str | None
    user_agent: str | None
    request_id: str | None
    prev_hash: str
    hash: str


class AuditFilter(msgspec.Struct, frozen=True):
    """Every field narrows the entries; None leaves it open."""

    actor_type: str | None = None
    actor_id: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class ChainProblem(msgspec.Struct):
    tenant_id: uuid.UUID
    tenant_slug: str
    seq: int
    problem: str


class ChainReport(msgspec.Struct):
    tenants: int
    entries: int
    problems: list[ChainProblem]

    @property
    def intact(self) -> bool:
        return not self.problems
