"""Commands and read models of tenant lifecycle and platform administration."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

__all__ = ["SignupCommand", "StatusChange", "TenantView"]


class SignupCommand(msgspec.Struct, forbid_unknown_fields=True):
    company_name: Annotated[str, msgspec.Meta(examples=["杭州汇客贸易有限公司"])]
    owner_name: Annotated[str, msgspec.Meta(examples=["李雷"])]
    email: Annotated[str, msgspec.Meta(examples=["li.lei@example.com"])]
    password: Annotated[
        str, msgspec.Meta(examples=["correct horse battery staple"], description="10+ characters")
    ]
    locale: Annotated[str, msgspec.Meta(examples=["zh-CN", "en"])] = "zh-CN"


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
