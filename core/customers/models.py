"""Tables of the customers domain: customers and their contacts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto.fields import blind_index_column, encrypted_column
from core.kernel.clock import utcnow
from core.kernel.concurrency import Versioned
from core.kernel.models import Base, JSONType, TenantOwned

__all__ = ["Contact", "Customer", "CustomerKind", "LifecycleStage", "PoolReason", "PoolRules"]


class CustomerKind:
    COMPANY = "company"
    INDIVIDUAL = "individual"
    ALL = (COMPANY, INDIVIDUAL)


class LifecycleStage:
    """Where a customer stands with the business, in the usual order."""

    LEAD = "lead"
    PROSPECT = "prospect"
    CUSTOMER = "customer"
    CHURNED = "churned"
    ALL = (LEAD, PROSPECT, CUSTOMER, CHURNED)


class PoolReason:
    """Why a customer is in the public pool."""

    NO_FOLLOW_UP = "no_follow_up"
    NO_DEAL = "no_deal"
    RELEASED = "released"
    ALL = (NO_FOLLOW_UP, NO_DEAL, RELEASED)


class Customer(Versioned, TenantOwned, Base):
    """A company or a person the business sells to. Owned by one user (the rep), or by nobody
    while it is in the public pool (``owner_id`` null)."""

    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_tenant_id_owner_id", "tenant_id", "owner_id"),
        Index("ix_customers_tenant_id_name", "tenant_id", "name"),
        Index("ix_customers_tenant_id_phone_bidx", "tenant_id", "phone_bidx"),
        Index("ix_customers_tenant_id_email_bidx", "tenant_id", "email_bidx"),
    )

    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str | None] = mapped_column(String(80))
    industry: Mapped[str | None] = mapped_column(String(80))
    stage: Mapped[str] = mapped_column(String(20), default=LifecycleStage.LEAD)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    #: Null while the customer is in the public pool.
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    #: The owner's team when the customer was assigned (a team deleted later leaves it dangling
    #: harmlessly: scope is decided by the owner, not by this column).
    team_id: Mapped[uuid.UUID | None] = mapped_column()
    phone: Mapped[str | None] = encrypted_column(search="phone", nullable=True)
    phone_bidx: Mapped[bytes | None] = blind_index_column()
    email: Mapped[str | None] = encrypted_column(search="email", nullable=True)
    email_bidx: Mapped[bytes | None] = blind_index_column()
    address: Mapped[str | None] = encrypted_column(nullable=True)
    id_number: Mapped[str | None] = encrypted_column(nullable=True)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    last_contacted_at: Mapped[datetime | None] = mapped_column()
    #: When the last deal with this customer was won (``pool.record_deal``).
    last_deal_at: Mapped[datetime | None] = mapped_column()
    #: When the current owner got the customer (create, transfer, claim): the pool's clock
    #: starts here, so a freshly claimed customer does not bounce back at once.
    assigned_at: Mapped[datetime | None] = mapped_column()
    #: When the owner was told the customer is about to return to the pool; cleared by a new
    #: owner and by a follow-up (so each notice goes out once per ownership and clock).
    pool_noticed_at: Mapped[datetime | None] = mapped_column()
    pool_entered_at: Mapped[datetime | None] = mapped_column()
    #: One of :class:`PoolReason`, while in the pool.
    pool_reason: Mapped[str | None] = mapped_column(String(20))
    pool_note: Mapped[str | None] = mapped_column(String(500))
    #: Who put it in the pool (a user id); null when the periodic job did.
    pool_released_by: Mapped[uuid.UUID | None] = mapped_column()
    pool_previous_owner_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Contact(Versioned, TenantOwned, Base):
    """A person at (or for) a customer. At most one per customer is primary."""

    __tablename__ = "contacts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"], ondelete="CASCADE"
        ),
        Index("ix_contacts_tenant_id_customer_id", "tenant_id", "customer_id"),
        Index("ix_contacts_tenant_id_phone_bidx", "tenant_id", "phone_bidx"),
        Index("ix_contacts_tenant_id_email_bidx", "tenant_id", "email_bidx"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(120))
    is_primary: Mapped[bool] = mapped_column(default=False)
    phone: Mapped[str | None] = encrypted_column(search="phone", nullable=True)
    phone_bidx: Mapped[bytes | None] = blind_index_column()
    email: Mapped[str | None] = encrypted_column(search="email", nullable=True)
    email_bidx: Mapped[bytes | None] = blind_index_column()
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PoolRules(Versioned, TenantOwned, Base):
    """The business's public-pool rules (at most one row per tenant; none means the defaults:
    the pool is off)."""

    __tablename__ = "customer_pool_rules"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    enabled: Mapped[bool] = mapped_column(default=False)
    #: Level → days without follow-up after which a customer returns (null: never).
    follow_up_days: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: For customers without a level, or with a level not in ``follow_up_days``.
    default_follow_up_days: Mapped[int | None] = mapped_column()
    no_deal_days: Mapped[int | None] = mapped_column()
    notice_days: Mapped[int] = mapped_column(default=0)
    max_owned_customers: Mapped[int | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
