"""Commands and read models of imports and exports (msgspec Structs at the edges)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

__all__ = ["ColumnView", "ImportOptions", "ImportView", "RowErrorView", "RunRequest"]


class ImportOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The form fields of an upload (besides ``file``)."""

    #: ``customer``, ``contact`` or ``lead``.
    entity: str
    #: True (the default): only validate and report; nothing is written.
    dry_run: bool = True
    #: What a duplicate row does: ``skip`` (default), ``update`` the existing record, ``create``.
    policy: str = "skip"
    #: Column (header text or 0-based index) -> field, or null to leave a column out.
    mapping: dict[str, str | None] = msgspec.field(default_factory=dict)
    #: Customers: ``company`` (default) or ``individual`` for rows without a kind.
    default_kind: str = "company"
    #: The owner (a user id) of rows without an owner column; defaults to the uploader (leads:
    #: the assignment rules first).
    default_owner_id: uuid.UUID | None = None


class RunRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Run a validated import (or validate it again with another mapping)."""

    dry_run: bool = False
    policy: str | None = None
    mapping: dict[str, str | None] = msgspec.field(default_factory=dict)


class ColumnView(msgspec.Struct, kw_only=True):
    index: int
    header: str
    #: The field it feeds, or None when the column is not imported.
    field: str | None


class ImportView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    entity: str
    filename: str
    file_format: str
    encoding: str | None
    size_bytes: int
    columns: list[ColumnView]
    #: Headers no field was found for (they are not imported unless mapped).
    unmapped: list[str]
    policy: str
    dry_run: bool
    status: str
    total_rows: int | None
    processed_rows: int
    created: int
    updated: int
    skipped: int
    failed: int
    undone: int
    kept: int
    error: str | None
    created_by: uuid.UUID
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    version: int
    defaults: dict[str, Any]


class RowErrorView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    row: int
    field: str | None
    column: str | None
    code: str
    reason: str
