"""What the key services report."""

from __future__ import annotations

import uuid

import msgspec

__all__ = ["MasterRotationReport", "ShredReport", "TenantRotationProgress"]


class MasterRotationReport(msgspec.Struct):
    master_key_id: str
    tenants: int
    rewrapped: int
    #: Master keys no longer used by any data key; the operator may destroy them.
    retired: list[str]


class TenantRotationProgress(msgspec.Struct):
    tenant_id: uuid.UUID
    from_version: int
    to_version: int
    table: str | None
    rows_done: int
    finished: bool = False


class ShredReport(msgspec.Struct):
    tenant_id: uuid.UUID
    versions_destroyed: int
