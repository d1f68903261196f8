"""Commands and read models of tenant lifecycle and platform administration."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

__all__ = ["SignupCommand", "StatusChange", "TenantView"]


class SignupCommand(msgspec.Struct, forbid_unknown_fields=True):
    company_name: str
    owner_name: str
    email: str
    password: str
    locale: str = "zh-CN"


class StatusChange(msgspec.Struct, forbid_unknown_fields=True):
    reason: str = ""


class TenantView(msgspec.Struct):
    id: uuid.UUID
    name: str
    slug: str
    status: str
    status_reason: str | None
    plan: str
    require_two_factor: bool
    created_at: datetime
