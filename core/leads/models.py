"""Tables of the leads domain: leads, the web forms that collect them, assignment rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.crypto.fields import blind_index_column, encrypted_column
from core.kernel.clock import utcnow
from core.kernel.concurrency import Versioned
from core.kernel.models import Base, JSONType, TenantOwned

__all__ = ["AssignmentRule", "AssignmentStrategy", "Lead", "LeadForm", "LeadStatus"]


class LeadStatus:
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    UNQUALIFIED = "unqualified"
    CONVERTED = "converted"
    #: The statuses a person sets; ``converted`` is set by a conversion only.
    SETTABLE = (NEW, CONTACTED, QUALIFIED, UNQUALIFIED)
    ALL = (*SETTABLE, CONVERTED)


class AssignmentStrategy:
    #: The next active member of the rule's team, in turn.
    ROUND_ROBIN = "round_robin"
    #: Always the rule's user.
    USER = "user"
    ALL = (ROUND_ROBIN, USER)


class Lead(Versioned, TenantOwned, Base):
    """A person (maybe at a company) who may buy. Nobody owns it until it is assigned."""

    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_tenant_id_owner_id", "tenant_id", "owner_id"),
        Index("ix_leads_tenant_id_status", "tenant_id", "status"),
        Index("ix_leads_tenant_id_phone_bidx", "tenant_id", "phone_bidx"),
        Index("ix_leads_tenant_id_email_bidx", "tenant_id", "email_bidx"),
        CheckConstraint(
            "status IN ('new', 'contacted', 'qualified', 'unqualified', 'converted')", name="status"
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = encrypted_column(search="phone", nullable=True)
    phone_bidx: Mapped[bytes | None] = blind_index_column()
    email: Mapped[str | None] = encrypted_column(search="email", nullable=True)
    email_bidx: Mapped[bytes | None] = blind_index_column()
    #: Free text from the person (a form's message): may hold personal data.
    message: Mapped[str | None] = encrypted_column(nullable=True)
    source: Mapped[str | None] = mapped_column(String(80))
    region: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20), default=LeadStatus.NEW)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    owner_id: Mapped[uuid.UUID | None] = mapped_column()
    team_id: Mapped[uuid.UUID | None] = mapped_column()
    form_id: Mapped[uuid.UUID | None] = mapped_column()
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    converted_at: Mapped[datetime | None] = mapped_column()
    converted_customer_id: Mapped[uuid.UUID | None] = mapped_column()
    converted_contact_id: Mapped[uuid.UUID | None] = mapped_column()
    converted_opportunity_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LeadForm(Versioned, TenantOwned, Base):
    """A public web form of the tenant. Its token (``lf_<tenant>_<form>_<secret>``) is put in
    the business's web page; only a SHA-256 of the secret part is kept."""

    __tablename__ = "lead_forms"
    __table_args__ = (UniqueConstraint("tenant_id", "secret_hash"),)

    name: Mapped[str] = mapped_column(String(120))
    secret_hash: Mapped[str] = mapped_column(String(64), info={"sensitive": True})
    #: The ``source`` given to every lead of this form (assignment rules may match on it).
    source: Mapped[str | None] = mapped_column(String(80))
    #: The name of the hidden field people never fill in; a submission with it is spam.
    honeypot_field: Mapped[str] = mapped_column(String(40), default="website")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssignmentRule(Versioned, TenantOwned, Base):
    """Who gets a new lead without an owner: the first active rule (by position) whose
    source and region match (None matches anything)."""

    __tablename__ = "lead_assignment_rules"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"], ondelete="CASCADE"),
        CheckConstraint("strategy IN ('round_robin', 'user')", name="strategy"),
        CheckConstraint(
            "(strategy = 'round_robin' AND team_id IS NOT NULL)"
            " OR (strategy = 'user' AND user_id IS NOT NULL)",
            name="target",
        ),
        Index("ix_lead_assignment_rules_position", "tenant_id", "position"),
    )

    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int]
    source: Mapped[str | None] = mapped_column(String(80))
    region: Mapped[str | None] = mapped_column(String(80))
    strategy: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[uuid.UUID | None]
    user_id: Mapped[uuid.UUID | None]
    #: The member who got the rule's last lead: round-robin continues after them.
    last_user_id: Mapped[uuid.UUID | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
