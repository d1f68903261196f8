"""Tables of the customers domain: customers and their contacts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto.fields import blind_index_column, encrypted_column
from core.kernel.clock import utcnow
from core.kernel.concurrency import Versioned
from core.kernel.models import Base, JSONType, TenantOwned

__all__ = ["Contact", "Customer", "CustomerKind", "LifecycleStage"]


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


class Customer(Versioned, TenantOwned, Base):
    """A company or a person the business sells to. Owned by one user (the rep)."""

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
    owner_id: Mapped[uuid.UUID] = mapped_column()
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
