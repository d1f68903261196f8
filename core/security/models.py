"""Identity and access: accounts, memberships, roles, teams, tokens, API keys, invitations.

An account (``users``) is one person, platform-wide, found by email. Everything that ties a
person to a business (membership, roles, team, refresh tokens, API keys, invitations) is
tenant-owned. Accounts are not tenant-owned, so no tenant data key can encrypt their email:
it stays plaintext (it is the sign-in name); the invitation's email is encrypted.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto.fields import blind_index_column, encrypted_column
from core.kernel.clock import utcnow
from core.kernel.concurrency import Versioned
from core.kernel.ids import new_id
from core.kernel.models import Base, JSONType, TenantOwned

__all__ = [
    "ApiKey",
    "Invitation",
    "LoginThrottle",
    "Membership",
    "MembershipRole",
    "PasswordReset",
    "PermissionCatalogue",
    "PlatformAdmin",
    "PlatformAdminAction",
    "RefreshToken",
    "Role",
    "Team",
    "User",
]


class User(Base):
    """A person's account, shared by all the tenants they belong to."""

    __tablename__ = "users"
    #: A platform table, audited in the chain of the tenant the change is made in.
    __audited__: ClassVar[bool] = True

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200), info={"sensitive": True})
    locale: Mapped[str] = mapped_column(String(10), default="zh-CN")
    is_active: Mapped[bool] = mapped_column(default=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64), info={"sensitive": True})
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlatformAdmin(Base):
    """Accounts that run the platform. Separate from every tenant role."""

    __tablename__ = "platform_admins"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlatformAdminAction(Base):
    """What a platform admin did, to which tenant."""

    __tablename__ = "platform_admin_actions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    admin_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60))
    target_tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Team(Versioned, TenantOwned, Base):
    __tablename__ = "teams"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        ForeignKeyConstraint(
            ["tenant_id", "manager_membership_id"],
            ["memberships.tenant_id", "memberships.id"],
            use_alter=True,
        ),
    )

    name: Mapped[str] = mapped_column(String(120))
    manager_membership_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Versioned, TenantOwned, Base):
    """A person's place in one tenant."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id"),
        ForeignKeyConstraint(
            ["tenant_id", "team_id"],
            ["teams.tenant_id", "teams.id"],
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[uuid.UUID | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    #: The member's work mobile in E.164 (text messages such as task reminders). Deferred:
    #: most reads of a membership (every sign-in, across the person's businesses) do not
    #: need it, and need not open the tenant's data key for it.
    phone: Mapped[str | None] = encrypted_column(nullable=True, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Role(Versioned, TenantOwned, Base):
    """A tenant-editable set of grants: ``{"customers.read": "team", ...}``."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(String(500), default="")
    grants: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    #: Template the role was seeded from (``owner``, ``sales_rep``...), or None for custom.
    template: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MembershipRole(TenantOwned, Base):
    __tablename__ = "membership_roles"
    __table_args__ = (
        UniqueConstraint("tenant_id", "membership_id", "role_id"),
        ForeignKeyConstraint(
            ["tenant_id", "membership_id"],
            ["memberships.tenant_id", "memberships.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(["tenant_id", "role_id"], ["roles.tenant_id", "roles.id"], ondelete="CASCADE"),
    )

    membership_id: Mapped[uuid.UUID]
    role_id: Mapped[uuid.UUID]


class RefreshToken(TenantOwned, Base):
    """One issued refresh token. Spent on use; reuse of a spent one revokes its family."""

    __tablename__ = "refresh_tokens"
    __audited__: ClassVar[bool] = False  # technical: sign-ins and refreshes are audited instead

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Versioned, TenantOwned, Base):
    """A credential for integrations. Only a SHA-256 of the secret is stored."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "secret_hash"),)

    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), info={"sensitive": True})
    grants: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Invitation(Versioned, TenantOwned, Base):
    """The invitee's email is personal data: encrypted, and found through its blind index."""

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "secret_hash"),
        ForeignKeyConstraint(["tenant_id", "role_id"], ["roles.tenant_id", "roles.id"], ondelete="CASCADE"),
        Index("ix_invitations_email_bidx", "tenant_id", "email_bidx"),
    )

    email: Mapped[str] = encrypted_column(search="email")
    email_bidx: Mapped[bytes | None] = blind_index_column()
    role_id: Mapped[uuid.UUID]
    secret_hash: Mapped[str] = mapped_column(String(64), info={"sensitive": True})
    invited_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PermissionCatalogue(Base):
    """The permissions the platform has offered tenants' seeded roles so far (one row): what
    ``core/security/role_sync.py`` compares the registry with to find new ones."""

    __tablename__ = "permission_catalogue"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    permissions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PasswordReset(Base):
    """Accounts are platform-wide, so their password resets are too."""

    __tablename__ = "password_resets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True, info={"sensitive": True})
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginThrottle(Base):
    """Failed sign-ins per key (``account:<sha256 of email>`` or ``ip:<address>``)."""

    __tablename__ = "login_throttles"
    __audited__: ClassVar[bool] = False  # technical

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    blocked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
