"""Per-tenant plugin state: which installed plugins a tenant enabled, with which config."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto.fields import encrypted_column
from core.kernel.clock import utcnow
from core.kernel.concurrency import Versioned
from core.kernel.models import Base, JSONType, TenantOwned

__all__ = ["PluginSubscription", "TenantPlugin"]


class TenantPlugin(Versioned, TenantOwned, Base):
    """One row per plugin a tenant has ever enabled. Installed-but-never-enabled plugins have
    no row. A paused plugin stays enabled but receives no calls until an admin resumes it."""

    __tablename__ = "tenant_plugins"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(default=True)
    #: The configuration without its secret fields.
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: The secret fields, as a JSON object, encrypted under the tenant's data key.
    secrets: Mapped[str | None] = encrypted_column(nullable=True)
    paused_at: Mapped[datetime | None]
    pause_reason: Mapped[str | None] = mapped_column(Text)
    #: Events in a row that ended in the dead letters; reset by the next success.
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PluginSubscription(Base):
    """Which tenants receive a plugin's events right now (enabled and not paused).

    A platform table, like the outbox: the relay reads it across tenants to send an event
    only to the plugins its tenant enabled, so it is written in the same transaction as
    every change of ``TenantPlugin.enabled`` and ``paused_at``.
    """

    __tablename__ = "plugin_subscriptions"

    tenant_ref: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    plugin: Mapped[str] = mapped_column(String(40), primary_key=True)
