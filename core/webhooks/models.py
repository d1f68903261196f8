"""Tables of outgoing webhooks: endpoints, deliveries and their attempts (tenant-owned), and
the platform's wake-up list of deliveries waiting for their next attempt."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto.fields import encrypted_column
from core.kernel.clock import utcnow
from core.kernel.concurrency import Versioned
from core.kernel.models import Base, JSONType, TenantOwned

__all__ = [
    "AttemptOutcome",
    "DeliveryStatus",
    "OwnerKind",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookWakeup",
]


class OwnerKind:
    #: Configured by the tenant's admins (the ``webhooks`` plugin).
    TENANT = "tenant"
    #: Belongs to an installed OAuth app; ``owner_ref`` is the installation.
    APP = "app"
    ALL = (TENANT, APP)


class DeliveryStatus:
    #: Not tried yet (or its first attempt is in flight).
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    #: The last attempt failed; another one is scheduled at ``next_attempt_at``.
    FAILED = "failed"
    #: Every allowed attempt failed (or the endpoint was disabled): nothing more is tried
    #: unless someone replays it.
    DEAD = "dead"
    ALL = (PENDING, SUCCEEDED, FAILED, DEAD)
    OPEN = (PENDING, FAILED)
    FINISHED = (SUCCEEDED, DEAD)


class AttemptOutcome:
    SENDING = "sending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: The worker stopped while the attempt was in flight; the next attempt finds it so.
    INTERRUPTED = "interrupted"
    ALL = (SENDING, SUCCEEDED, FAILED, INTERRUPTED)


class WebhookEndpoint(Versioned, TenantOwned, Base):
    """A URL that receives the tenant's events, signed with the endpoint's own secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index("ix_webhook_endpoints_tenant_id_owner", "tenant_id", "owner_kind", "owner_ref"),
        # An owner other than the tenant (an app's installation) has one endpoint.
        Index(
            "uq_webhook_endpoints_tenant_id_owner",
            "tenant_id",
            "owner_kind",
            "owner_ref",
            unique=True,
            sqlite_where=text("owner_ref IS NOT NULL"),
            postgresql_where=text("owner_ref IS NOT NULL"),
        ),
        CheckConstraint("owner_kind IN ('tenant', 'app')", name="owner_kind"),
        CheckConstraint(
            "(owner_kind = 'tenant' AND owner_ref IS NULL)"
            " OR (owner_kind <> 'tenant' AND owner_ref IS NOT NULL)",
            name="owner_ref",
        ),
    )

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    #: Event names, ``<domain>.*`` patterns, or ``["*"]`` for every event.
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    owner_kind: Mapped[str] = mapped_column(String(20), default=OwnerKind.TENANT)
    owner_ref: Mapped[uuid.UUID | None] = mapped_column()
    secret: Mapped[str] = encrypted_column()
    #: The secret before the last rotation, still signing until ``previous_secret_expires_at``.
    previous_secret: Mapped[str | None] = encrypted_column(nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(TenantOwned, Base):
    """One event for one endpoint: the body as sent, and where its attempts stand. Its id is
    the ``Huike-Delivery`` header, the same on every attempt and replay."""

    __tablename__ = "webhook_deliveries"
    __audited__: ClassVar[bool] = False  # technical: the endpoint's configuration is audited
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("tenant_id", "endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_tenant_id_endpoint_id", "tenant_id", "endpoint_id", "id"),
        Index("ix_webhook_deliveries_tenant_id_status", "tenant_id", "status", "id"),
        Index("ix_webhook_deliveries_tenant_id_created_at", "tenant_id", "created_at"),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed', 'dead')", name="status"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column()
    event_id: Mapped[uuid.UUID] = mapped_column()
    event_name: Mapped[str] = mapped_column(String(120))
    #: The request body, byte for byte as signed and sent (it may carry personal data).
    body: Mapped[str] = encrypted_column()
    status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.PENDING)
    #: Attempts in the current series (a replay starts a new series at 0).
    attempts: Mapped[int] = mapped_column(default=0)
    #: 0 for the original series, then 1, 2... for each replay.
    series: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    #: Set while an attempt is in flight: no other worker claims the delivery before then.
    locked_until: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column()
    last_response: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_duration_ms: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
    replayed_at: Mapped[datetime | None] = mapped_column()
    #: Sent even once its endpoint is disabled: the endpoint's last word, written in the
    #: transaction that disables it (an app's notice of its own uninstall).
    final: Mapped[bool] = mapped_column(default=False, server_default=false())


class WebhookAttempt(TenantOwned, Base):
    """One HTTP request of a delivery, with the answer's status code."""

    __tablename__ = "webhook_attempts"
    __audited__: ClassVar[bool] = False
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "delivery_id"],
            ["webhook_deliveries.tenant_id", "webhook_deliveries.id"],
            ondelete="CASCADE",
        ),
        Index("ix_webhook_attempts_tenant_id_delivery_id", "tenant_id", "delivery_id", "id"),
        CheckConstraint("outcome IN ('sending', 'succeeded', 'failed', 'interrupted')", name="outcome"),
    )

    delivery_id: Mapped[uuid.UUID] = mapped_column()
    series: Mapped[int] = mapped_column()
    #: 1, 2, 3... within its series.
    number: Mapped[int] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(12), default=AttemptOutcome.SENDING)
    status_code: Mapped[int | None] = mapped_column()
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int | None] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class WebhookWakeup(Base):
    """When a delivery is due for its next attempt: the platform-wide list the sweeper reads
    (deliveries are under row-level security, so a platform job cannot look for them).

    Like the outbox it names tenants and rows, never their data. A row is written with its
    delivery, moved on with every attempt, and deleted when the delivery is finished; while
    an attempt is in flight it points past the attempt's lease, so a worker that died
    mid-attempt is noticed and the delivery tried again."""

    __tablename__ = "webhook_wakeups"

    tenant_ref: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    delivery_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    due_at: Mapped[datetime] = mapped_column(index=True)
