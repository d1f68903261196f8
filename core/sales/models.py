"""Tables of the sales domain: pipelines and their ordered stages, opportunities and the
history of the stages each opportunity went through."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.kernel.clock import utcnow
from core.kernel.concurrency import Versioned
from core.kernel.models import Base, JSONType, TenantOwned
from core.kernel.money import MoneyAmount

__all__ = [
    "ForecastCategory",
    "Opportunity",
    "OpportunityStatus",
    "Pipeline",
    "Stage",
    "StageKind",
    "StageVisit",
]


class StageKind:
    OPEN = "open"
    WON = "won"
    LOST = "lost"
    ALL = (OPEN, WON, LOST)
    CLOSED = (WON, LOST)


class Pipeline(Versioned, TenantOwned, Base):
    """A sales process. Its stages belong to it: a change to a stage bumps the pipeline's
    version, so the pipeline's ETag covers the stages the client sees with it."""

    __tablename__ = "pipelines"
    __table_args__ = (
        # Exactly one default per tenant, held by the database on SQLite and PostgreSQL alike.
        Index(
            "uq_pipelines_one_default",
            "tenant_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    name: Mapped[str] = mapped_column(String(120))
    is_default: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    stages: Mapped[list[Stage]] = relationship(
        back_populates="pipeline",
        order_by="Stage.position",
        cascade="all, delete-orphan",
        lazy="raise",
        overlaps="pipeline",
    )


class Stage(TenantOwned, Base):
    """One step of a pipeline. Open stages come first; the won and the lost stage close it."""

    __tablename__ = "pipeline_stages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "pipeline_id"], ["pipelines.tenant_id", "pipelines.id"], ondelete="CASCADE"
        ),
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability_percent"),
        CheckConstraint("kind IN ('open', 'won', 'lost')", name="kind"),
        CheckConstraint("rotting_days IS NULL OR rotting_days > 0", name="rotting_days_positive"),
        Index("ix_pipeline_stages_pipeline", "tenant_id", "pipeline_id", "position"),
    )

    pipeline_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(80))
    #: 1-based place in the pipeline; the service keeps positions dense.
    position: Mapped[int]
    #: Win probability in percent (0-100): weights the forecast.
    probability: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10), default=StageKind.OPEN)
    #: An opportunity idle this many days in the stage is shown as rotting; None: never.
    rotting_days: Mapped[int | None]

    pipeline: Mapped[Pipeline] = relationship(back_populates="stages", overlaps="stages")


class OpportunityStatus:
    OPEN = "open"
    WON = "won"
    LOST = "lost"
    ALL = (OPEN, WON, LOST)


class ForecastCategory:
    COMMIT = "commit"
    BEST_CASE = "best_case"
    PIPELINE = "pipeline"
    #: Left out of the forecast.
    OMITTED = "omitted"
    ALL = (COMMIT, BEST_CASE, PIPELINE, OMITTED)


class Opportunity(Versioned, TenantOwned, Base):
    """A deal with a customer, moving through the stages of one pipeline. Owned by one user."""

    __tablename__ = "opportunities"
    __table_args__ = (
        # No ON DELETE: the customers domain re-points or removes opportunities in its own
        # transaction (merge, delete) through core/sales/links.py before the customer goes.
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
        ForeignKeyConstraint(["tenant_id", "pipeline_id"], ["pipelines.tenant_id", "pipelines.id"]),
        ForeignKeyConstraint(["tenant_id", "stage_id"], ["pipeline_stages.tenant_id", "pipeline_stages.id"]),
        CheckConstraint("status IN ('open', 'won', 'lost')", name="status"),
        CheckConstraint(
            "forecast_category IS NULL"
            " OR forecast_category IN ('commit', 'best_case', 'pipeline', 'omitted')",
            name="forecast_category",
        ),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_opportunities_tenant_id_owner_id", "tenant_id", "owner_id"),
        Index("ix_opportunities_tenant_id_customer_id", "tenant_id", "customer_id"),
        Index("ix_opportunities_tenant_id_stage_id", "tenant_id", "stage_id", "status"),
        Index("ix_opportunities_tenant_id_pipeline_id", "tenant_id", "pipeline_id", "status"),
    )

    name: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[uuid.UUID]
    #: A contact of the customer (checked on write).
    contact_id: Mapped[uuid.UUID | None]
    pipeline_id: Mapped[uuid.UUID]
    stage_id: Mapped[uuid.UUID]
    amount: Mapped[Decimal] = mapped_column(MoneyAmount())
    #: ISO 4217; amounts of different currencies are never added.
    currency: Mapped[str] = mapped_column(String(3))
    expected_close_date: Mapped[date | None]
    owner_id: Mapped[uuid.UUID]
    team_id: Mapped[uuid.UUID | None]
    source: Mapped[str | None] = mapped_column(String(80))
    #: ``[{"name": ..., "sku": ..., "quantity": "2"}]`` (see ``schemas.ProductInterest``).
    products: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    #: Set by a person; None: derived from the stage's probability.
    forecast_category: Mapped[str | None] = mapped_column(String(20))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(10), default=OpportunityStatus.OPEN)
    won_at: Mapped[datetime | None]
    lost_at: Mapped[datetime | None]
    lost_reason: Mapped[str | None] = mapped_column(String(500))
    #: When it entered its current stage (the rotting clock).
    stage_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StageVisit(TenantOwned, Base):
    """One stay of an opportunity in one stage: ``left_at`` is None while it is still there.

    ``stage_id`` has no foreign key: the history of a stage outlives the stage's removal.
    """

    __tablename__ = "opportunity_stage_history"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "opportunity_id"],
            ["opportunities.tenant_id", "opportunities.id"],
            ondelete="CASCADE",
        ),
        Index("ix_opportunity_stage_history_opportunity", "tenant_id", "opportunity_id", "entered_at"),
        Index("ix_opportunity_stage_history_pipeline", "tenant_id", "pipeline_id", "stage_id"),
    )

    opportunity_id: Mapped[uuid.UUID]
    pipeline_id: Mapped[uuid.UUID]
    stage_id: Mapped[uuid.UUID]
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None]
    #: Who moved it there (None: the system, e.g. a demo seed or an import).
    moved_by: Mapped[uuid.UUID | None]
