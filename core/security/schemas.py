"""Commands and read models of the identity package."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

__all__ = [
    "LoginCommand",
    "MeView",
    "ProfileUpdate",
    "RefreshCommand",
    "SwitchTenantCommand",
    "TenantChoice",
    "TokenPair",
]


Email = Annotated[str, msgspec.Meta(examples=["li.lei@example.com"], description="The account's email")]


class LoginCommand(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(examples=["correct horse battery staple"])]
    tenant: (
        Annotated[
            str,
            msgspec.Meta(
                examples=["acme-trading"],
                description="Tenant id or slug; needed only when the account belongs to several.",
            ),
        ]
        | None
    ) = None
    otp: (
        Annotated[str, msgspec.Meta(examples=["123456"], description="TOTP code, when 2FA is on.")] | None
    ) = None


class RefreshCommand(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: str


class SwitchTenantCommand(msgspec.Struct, forbid_unknown_fields=True):
    tenant: str


class TokenPair(msgspec.Struct):
    access_token: str
    refresh_token: str
    tenant_id: uuid.UUID
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


class TenantChoice(msgspec.Struct):
    id: uuid.UUID
    slug: str
    name: str


class MeView(msgspec.Struct):
    user_id: uuid.UUID
    email: str
    full_name: str
    locale: str
    two_factor_enabled: bool
    tenant: TenantChoice
    tenant_status: str
    membership_id: uuid.UUID
    team_id: uuid.UUID | None
    roles: list[str]
    #: Effective permissions: permission name -> record scope (own, team, all).
    permissions: dict[str, str]
    tenants: list[TenantChoice]
    created_at: datetime
    #: The caller's work mobile in this business (E.164), for text messages such as task
    #: reminders; ``None`` when not given.
    phone: str | None = None


Phone = Annotated[str, msgspec.Meta(max_length=40, examples=["138 0013 8000"])]


class ProfileUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """What a member changes about themselves in this business. ``phone``: a mobile number
    (``138 0013 8000``, ``+852 5123 4567``), stored in E.164; ``null`` or ``""`` clears it."""

    phone: Phone | msgspec.UnsetType | None = msgspec.UNSET
