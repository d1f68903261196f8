"""Tables of the apps package.

* ``apps`` is a platform table: an OAuth client must be found by its ``client_id`` before
  any tenant is known (the authorize and token endpoints). Its owner is the developer's
  tenant (``developer_tenant_id``); the service lists and edits only the current tenant's
  apps, and on PostgreSQL a policy lets the application read every row but write only its
  developer tenant's.
* Installations, authorization codes and tokens belong to the installing tenant: tenant-owned
  (``(tenant_id, id)``, composite foreign keys, RLS). Codes and tokens carry their tenant in
  their text (``hkac_/hkat_/hkrt_<tenant>_<id>_<secret>``), so the server enters the tenant
  before it reads them, exactly as for API keys.
* ``app_tenants`` is a platform mirror of the active installations (app, tenant, when,
  scopes granted), written with every install, consent and uninstall: the relay reads it
  across tenants to offer an event to the apps webhook handler only when the event's tenant
  installed an app that wants events, and the developer reads their app's rows to list the
  businesses that installed it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.kernel.clock import utcnow
from core.kernel.concurrency import Versioned
from core.kernel.ids import new_id
from core.kernel.models import Base, JSONType, TenantOwned

__all__ = [
    "App",
    "AppAuthorizationCode",
    "AppInstallation",
    "AppStatus",
    "AppTenant",
    "AppToken",
    "ClientType",
    "TokenKind",
]


class ClientType:
    #: A server that keeps a secret: authenticates at the token endpoint.
    CONFIDENTIAL = "confidential"
    #: A native or single-page app that cannot keep a secret: PKCE only, no client credentials.
    PUBLIC = "public"
    ALL = (CONFIDENTIAL, PUBLIC)


class AppStatus:
    ACTIVE = "active"
    #: Stopped by a platform admin (``status_reason`` says why): no token, consent or
    #: delivery works until it is resumed.
    SUSPENDED = "suspended"
    #: Deleted by its developer: uninstalled everywhere, gone from every list; the row stays
    #: for the audit trails and so that its client id is never given again.
    DELETED = "deleted"
    ALL = (ACTIVE, SUSPENDED, DELETED)


class TokenKind:
    ACCESS = "access"
    REFRESH = "refresh"


class App(Versioned, Base):
    """A registered OAuth client. Platform-level, owned by the developer's tenant."""

    __tablename__ = "apps"
    #: Audited in the chain of the tenant in context: the developer's.
    __audited__: ClassVar[bool] = True

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    developer_tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_type: Mapped[str] = mapped_column(String(20))
    #: SHA-256 of the secret (high entropy: no slow hash needed); None for a public client.
    client_secret_hash: Mapped[str | None] = mapped_column(String(64), info={"sensitive": True})
    secret_prefix: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(1000), default="")
    homepage_url: Mapped[str | None] = mapped_column(String(500))
    redirect_uris: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: The scopes the app asks for; an admin grants them, or fewer.
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: Where the app wants its events delivered (the signed delivery is core/webhooks').
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: The webhook signing secret, wrapped by the platform's master key (it signs deliveries
    #: in every installing tenant, so no tenant's key may hold it): see core/apps/webhook_secrets.
    webhook_secret: Mapped[bytes | None] = mapped_column(LargeBinary, info={"sensitive": True})
    webhook_secret_key_id: Mapped[str | None] = mapped_column(String(64))
    webhook_secret_prefix: Mapped[str | None] = mapped_column(String(16))
    #: The secret before the last rotation, still signing beside it until the expiry.
    webhook_previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary, info={"sensitive": True})
    webhook_previous_secret_key_id: Mapped[str | None] = mapped_column(String(64))
    webhook_previous_secret_expires_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    secret_rotated_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default=AppStatus.ACTIVE, server_default=AppStatus.ACTIVE)
    #: Why a platform admin suspended it, shown to its developer and the businesses using it.
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("client_type IN ('confidential', 'public')", name="client_type"),
        CheckConstraint("status IN ('active', 'suspended', 'deleted')", name="status"),
    )


class AppInstallation(Versioned, TenantOwned, Base):
    """An app installed in a tenant, with the scopes its admin granted. Uninstalling keeps the
    row (``uninstalled_at``) so a reinstall reuses it and the audit trail stays readable."""

    __tablename__ = "app_installations"
    __table_args__ = (UniqueConstraint("tenant_id", "app_id"),)

    app_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    granted_scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    installed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)
    uninstalled_at: Mapped[datetime | None]


class AppAuthorizationCode(TenantOwned, Base):
    """A code handed to the app's redirect URI after consent: one use, ten minutes."""

    __tablename__ = "app_authorization_codes"
    __audited__: ClassVar[bool] = False  # technical: the consent is the audit entry
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["app_installations.tenant_id", "app_installations.id"],
            ondelete="CASCADE",
        ),
    )

    installation_id: Mapped[uuid.UUID]
    app_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), info={"sensitive": True})
    redirect_uri: Mapped[str] = mapped_column(String(500))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    #: The admin who consented.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppToken(TenantOwned, Base):
    """One issued access or refresh token, stored as the SHA-256 of its text.

    ``family_id`` ties together every token that descends from one consent (the code's id) or
    one client-credentials request: a refresh token used twice revokes its whole family.
    """

    __tablename__ = "app_tokens"
    __audited__: ClassVar[bool] = False  # technical: consents, uninstalls and revocations are
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "installation_id"],
            ["app_installations.tenant_id", "app_installations.id"],
            ondelete="CASCADE",
        ),
        Index("ix_app_tokens_tenant_id_family_id", "tenant_id", "family_id"),
        Index("ix_app_tokens_tenant_id_installation_id", "tenant_id", "installation_id"),
        CheckConstraint("kind IN ('access', 'refresh')", name="kind"),
    )

    installation_id: Mapped[uuid.UUID]
    app_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), info={"sensitive": True})
    family_id: Mapped[uuid.UUID]
    grant_type: Mapped[str] = mapped_column(String(40))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: The admin whose consent the token descends from; None for client credentials.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    #: A refresh token is spent by its one use (rotation).
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppTenant(Base):
    """An active installation, as the relay and the developer see it: which tenants installed
    which app, since when, granting what (the developer cannot read the installation itself)."""

    __tablename__ = "app_tenants"

    app_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    tenant_ref: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    #: The installation's ``installed_at``: the last install, not a re-consent.
    installed_at: Mapped[datetime]
    #: The installation's ``granted_scopes``, as of its last consent.
    granted_scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
