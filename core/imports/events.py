"""Domain events of the imports package (ids and counts only, never a cell's value). The
records an import writes emit their own domain's events (``customers.created``...)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from core.events.schemas import DomainEvent

__all__ = ["ImportFinished"]


class ImportFinished(DomainEvent, frozen=True, kw_only=True):
    name: ClassVar[str] = "imports.finished"
    version: ClassVar[int] = 1
    import_id: uuid.UUID
    entity: str
    #: ``validated`` (a dry run), ``done`` or ``undone``.
    status: str
    created: int
    updated: int
    skipped: int
    failed: int
